import type { Schedule } from "../api/types";
import { formatDateTime, formatSeconds } from "./format";

/** A short description for when the server didn't send one. */
export function describeSchedule(schedule: Schedule | null | undefined): string {
  if (!schedule) return "Manual only";
  switch (schedule.type) {
    case "once":
      return `Once at ${formatDateTime(schedule.at, undefined, false)}`;
    case "interval":
      return `Every ${formatSeconds(schedule.seconds)}`;
    case "cron":
      return `Cron ${schedule.expression} (${schedule.timezone})`;
  }
}
