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
