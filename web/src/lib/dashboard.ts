// Pure helpers of the dashboard: links to the runs a figure counts, and how late a slot is.
import type { RunStatus, RunTrigger } from "../api/types";
import { DEFAULT_PAGE_SIZE, runViewSearch, type RunFilter } from "./runs";

/** The runs a dashboard figure counts: the runs page's filter (see lib/runs.ts's RunFilter). */
export interface RunsFilter {
  status?: RunStatus[];
  trigger?: RunTrigger[];
  scheduled_from?: string;
  scheduled_to?: string;
  task_id?: number;
  q?: string;
  finished_from?: string;
  finished_to?: string;
}

export const FAILED_STATUSES: RunStatus[] = ["failed", "timed_out"];

/** "/runs?status=failed&status=timed_out&from=…": the runs page showing those runs, in the names the
 * runs page reads from its URL (`task`, `from`, `to`: what runViewSearch writes), so the link
 * reproduces the view as if it had been filtered by hand. */
export function runsLink(filter: RunsFilter): string {
  const query = runViewSearch({
    filter: { status: filter.status ?? [], trigger: filter.trigger ?? [], ...pick(filter) },
    page: 1,
    size: DEFAULT_PAGE_SIZE,
  }).toString();
  return query ? `/runs?${query}` : "/runs";
}

function pick({ scheduled_from, scheduled_to, task_id, q, finished_from, finished_to }: RunsFilter): Partial<RunFilter> {
  const out: Partial<RunFilter> = {};
  if (finished_from) out.finished_from = finished_from;
  if (finished_to) out.finished_to = finished_to;
  if (scheduled_from) out.scheduled_from = scheduled_from;
  if (scheduled_to) out.scheduled_to = scheduled_to;
  if (task_id !== undefined) out.task_id = task_id;
  if (q) out.q = q;
  return out;
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
