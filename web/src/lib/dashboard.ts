// Pure helpers of the dashboard: links to the runs a figure counts, and how late a slot is.
import type { RunStatus, RunTrigger } from "../api/types";

/** The runs page's URL filters: the same names as GET /api/runs's query parameters. */
export interface RunsFilter {
  status?: RunStatus[];
  trigger?: RunTrigger[];
  scheduled_from?: string;
  scheduled_to?: string;
  task_id?: number;
  q?: string;
}

export const FAILED_STATUSES: RunStatus[] = ["failed", "timed_out"];

/** "/runs?status=failed&status=timed_out&scheduled_from=…": the runs page showing those runs. */
export function runsLink(filter: RunsFilter): string {
  const params = new URLSearchParams();
  for (const status of filter.status ?? []) params.append("status", status);
  for (const trigger of filter.trigger ?? []) params.append("trigger", trigger);
  if (filter.scheduled_from) params.set("scheduled_from", filter.scheduled_from);
  if (filter.scheduled_to) params.set("scheduled_to", filter.scheduled_to);
  if (filter.task_id !== undefined) params.set("task_id", String(filter.task_id));
  if (filter.q) params.set("q", filter.q);
  const query = params.toString();
  return query ? `/runs?${query}` : "/runs";
}

/** A length of time in short words: "40 s", "3 min 20 s", "2 h 5 min", "3 d 4 h". */
export function formatAge(totalSeconds: number): string {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 ? `${minutes} min ${seconds % 60} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/** A slot this many seconds past its time and not started is late (the server counts the same). */
export const LATE_AFTER_SECONDS = 1;

/** How many whole seconds a slot due at `iso` is overdue at `now` (0: not overdue). */
export function overdueSeconds(iso: string, now: number): number {
  const late = (now - new Date(iso).getTime()) / 1000;
  return late >= LATE_AFTER_SECONDS ? Math.floor(late) : 0;
}

/** "overdue by 40 s" for a slot past its time; null when it is not (yet) late. */
export function overdueText(iso: string, now: number): string | null {
  const late = overdueSeconds(iso, now);
  return late ? `overdue by ${formatAge(late)}` : null;
}

/** The browser's clock corrected by how far it was from the server's when the figures were read. */
export function serverNow(serverIso: string, receivedAt: number, now: number = Date.now()): number {
  return new Date(serverIso).getTime() + (now - receivedAt);
}
