import type { RunStatus } from "../api/types";

export const browserTimeZone: string = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string | undefined, withSeconds: boolean): Intl.DateTimeFormat {
  const id = `${timeZone ?? ""}|${withSeconds}`;
  let format = dateTimeFormats.get(id);
  if (!format) {
    format = new Intl.DateTimeFormat(undefined, {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      second: withSeconds ? "2-digit" : undefined,
      timeZone,
      timeZoneName: timeZone ? "short" : undefined,
    });
    dateTimeFormats.set(id, format);
  }
  return format;
}

/** A timestamp in the browser's zone (or the given one). */
export function formatDateTime(iso: string | null | undefined, timeZone?: string, withSeconds = true): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return formatterFor(timeZone, withSeconds).format(date);
}

/** The same instant in UTC, ISO style, for tooltips. */
export function formatUtc(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace("Z", " UTC")}`;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 86_400],
  ["month", 30 * 86_400],
  ["week", 7 * 86_400],
  ["day", 86_400],
  ["hour", 3_600],
  ["minute", 60],
  ["second", 1],
];

/** "in 5 minutes", "3 hours ago". */
export function formatRelative(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return "—";
  const time = new Date(iso).getTime();
  if (Number.isNaN(time)) return iso;
  const seconds = (time - now) / 1000;
  const abs = Math.abs(seconds);
  if (abs < 5) return "just now";
  for (const [unit, size] of UNITS) {
    if (abs >= size || unit === "second") return relative.format(Math.round(seconds / size), unit);
  }
  return relative.format(Math.round(seconds), "second");
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds % 60);
  if (minutes < 60) return `${minutes} min ${rest} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
}

/** 90 → "1 minute 30 seconds"; used for interval schedules. */
export function formatSeconds(total: number): string {
  const parts: string[] = [];
  let rest = Math.round(total);
  for (const [unit, size] of [
    ["day", 86_400],
    ["hour", 3_600],
    ["minute", 60],
    ["second", 1],
  ] as const) {
    const count = Math.floor(rest / size);
    if (count > 0) parts.push(`${count} ${unit}${count === 1 ? "" : "s"}`);
    rest -= count * size;
  }
  return parts.length ? parts.join(" ") : "0 seconds";
}

export const STATUS_COLORS: Record<RunStatus, string> = {
  queued: "gray",
  running: "blue",
  succeeded: "teal",
  failed: "red",
  timed_out: "orange",
  cancelled: "yellow",
  skipped: "violet",
};

export function statusLabel(status: string): string {
  return status.replace("_", " ");
}

/** A Date as the value of an <input type="datetime-local"> in the browser's zone. */
export function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** The value of a datetime-local input (browser zone) as an ISO UTC string, or null if empty/invalid. */
export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

let zones: string[] | null = null;

/** IANA time zones the browser knows, UTC first. */
export function timeZones(): string[] {
  if (zones) return zones;
  let list: string[] = [];
  try {
    list = (Intl as unknown as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.("timeZone") ?? [];
  } catch {
    list = [];
  }
  const set = new Set<string>(["UTC", browserTimeZone, ...list]);
  zones = ["UTC", ...[...set].filter((zone) => zone !== "UTC").sort()];
  return zones;
}

const wallFormats = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock fields of an instant in ``zone`` (throws RangeError for an unknown zone). */
function wallParts(time: number, zone: string): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  let format = wallFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    wallFormats.set(zone, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(new Date(time))) if (part.type !== "literal") parts[part.type] = Number(part.value);
  const get = (name: string): number => parts[name] ?? 0;
  return { year: get("year"), month: get("month"), day: get("day"), hour: get("hour") % 24, minute: get("minute"), second: get("second") };
}

/** How far ``zone``'s wall clock is ahead of UTC at an instant, in milliseconds. */
export function zoneOffsetMs(time: number, zone: string): number {
  const wall = wallParts(time, zone);
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  return asUtc - Math.floor(time / 1000) * 1000;
}

function knownZone(zone: string | undefined): zone is string {
  if (!zone) return false;
  try {
    wallParts(0, zone);
    return true;
  } catch {
    return false;
  }
}

/** An instant as the value of an <input type="datetime-local"> showing ``zone``'s wall clock (the
 * browser's zone when none is given or it is unknown). */
export function toZonedInput(iso: string | null | undefined, zone?: string): string {
  if (!knownZone(zone)) return toLocalInput(iso);
  if (!iso) return "";
  const time = new Date(iso).getTime();
  if (Number.isNaN(time)) return "";
  const wall = wallParts(time, zone);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${wall.year}-${pad(wall.month)}-${pad(wall.day)}T${pad(wall.hour)}:${pad(wall.minute)}`;
}

/** A datetime-local value read as ``zone``'s wall clock, as an ISO UTC string (null if empty or
 * invalid). As browsers read their own zone's wall times: a repeated time is its first occurrence,
 * and a time the clocks skip moves forward by the change (02:30 on a 02:00→03:00 night is 03:30). */
export function fromZonedInput(value: string, zone?: string): string | null {
  if (!knownZone(zone)) return fromLocalInput(value);
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (!match) return null;
  const [year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0] = match.slice(1).map((part) => Number(part ?? 0));
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  if (Number.isNaN(wall)) return null;
  // The offset at the wall time read as UTC is at most a day off; asking again at the result settles it.
  const guess = wall - zoneOffsetMs(wall, zone);
  const time = wall - zoneOffsetMs(guess, zone);
  const skipped = time + zoneOffsetMs(time, zone) !== wall;
  return new Date(skipped ? Math.max(guess, time) : time).toISOString();
}
