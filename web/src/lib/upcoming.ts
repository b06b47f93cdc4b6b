// The upcoming view's calendar arithmetic, on the browser's wall clock: a day runs from local
// midnight to the next (23 or 25 hours on a DST night), a week from Monday to the Monday after.
import type { UpcomingRun } from "../api/types";

export type UpcomingView = "day" | "week";

const pad = (n: number) => String(n).padStart(2, "0");

/** A local date as YYYY-MM-DD. */
export function dateKey(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** Local midnight of a YYYY-MM-DD date (today's when the text is not a date). */
export function parseDateKey(text: string | null | undefined, today: Date = new Date()): Date {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text ?? "");
  const day = match ? new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : new Date(today.getFullYear(), today.getMonth(), today.getDate());
  return Number.isNaN(day.getTime()) ? new Date(today.getFullYear(), today.getMonth(), today.getDate()) : day;
}

/** ``date`` moved by whole local days (calendar days, whatever their length). */
export function addDays(date: Date, days: number): Date {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate() + days);
}

/** Local midnight of the Monday of ``date``'s week. */
export function mondayOf(date: Date): Date {
  return addDays(date, -((date.getDay() + 6) % 7));
}

/** The days a view shows around ``date``: one, or Monday to Sunday. */
export function viewDays(view: UpcomingView, date: Date): Date[] {
  if (view === "day") return [parseDateKey(dateKey(date))];
  const monday = mondayOf(date);
  return Array.from({ length: 7 }, (_, index) => addDays(monday, index));
}

/** The window [from, to) the API is asked for, as ISO UTC times. */
export function viewWindow(view: UpcomingView, date: Date): { from: string; to: string } {
  const days = viewDays(view, date);
  const first = days[0] ?? date;
  const last = days[days.length - 1] ?? date;
  return { from: first.toISOString(), to: addDays(last, 1).toISOString() };
}

/** Items in order, grouped by the local day they fall on (YYYY-MM-DD → items). */
export function byDay(items: readonly UpcomingRun[]): Map<string, UpcomingRun[]> {
  const groups = new Map<string, UpcomingRun[]>();
  for (const item of items) {
    const key = dateKey(new Date(item.at));
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

/** Items in order, grouped by the local hour they start in; a repeated hour (DST) is two groups. */
export function byHour(items: readonly UpcomingRun[]): { start: Date; items: UpcomingRun[] }[] {
  const groups: { start: Date; items: UpcomingRun[] }[] = [];
  for (const item of items) {
    const at = new Date(item.at);
    // The hour's start instant: minutes and seconds off (whole-hour offsets; a half-hour zone's
    // hour still starts at its own :00).
    const start = new Date(at.getTime() - (at.getMinutes() * 60 + at.getSeconds()) * 1000 - at.getMilliseconds());
    const last = groups[groups.length - 1];
    if (last && last.start.getTime() === start.getTime()) last.items.push(item);
    else groups.push({ start, items: [item] });
  }
  return groups;
}

const timeFormats = new Map<string, Intl.DateTimeFormat>();

/** "09:30" on the wall clock of ``zone`` (the browser's when none). */
export function clockTime(iso: string, zone?: string): string {
  const id = zone ?? "";
  let format = timeFormats.get(id);
  if (!format) {
    format = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone });
    timeFormats.set(id, format);
  }
  return format.format(new Date(iso));
}

const wallFormats = new Map<string, Intl.DateTimeFormat | null>();

function wallText(at: Date, zone?: string): string | null {
  const id = zone ?? "";
  let format = wallFormats.get(id);
  if (format === undefined) {
    try {
      format = new Intl.DateTimeFormat("en-US", { timeZone: zone, dateStyle: "short", timeStyle: "short" });
    } catch {
      format = null; // an unknown zone
    }
    wallFormats.set(id, format);
  }
  return format ? format.format(at) : null;
}

/** Whether a zone's wall clock reads like the browser's at an instant (then one time is enough). */
export function sameWallClock(iso: string, zone: string, browserZone: string): boolean {
  if (zone === browserZone) return true;
  const at = new Date(iso);
  const there = wallText(at, zone);
  return there !== null && there === wallText(at);
}
