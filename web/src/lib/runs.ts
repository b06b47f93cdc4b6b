// Pure helpers of the runs page and the run page: the view in the URL, labels, durations, the log.
import type { Run, RunPage, RunStatus, RunTrigger } from "../api/types";
import { RUN_STATUSES } from "../api/types";

export const RUN_TRIGGERS: RunTrigger[] = ["schedule", "manual", "retry"];
export const PAGE_SIZES = [20, 50, 100] as const;
export const DEFAULT_PAGE_SIZE = 20;
/** What one bulk retry may take (the API's limit). */
export const MAX_BULK_RETRY = 1000;
/** Outcomes a person may retry by hand (the API skips the others). */
export const RETRYABLE: readonly RunStatus[] = ["failed", "timed_out", "cancelled"];

/** Which runs the list shows: every field narrows; what the API's filter takes. */
export interface RunFilter {
  task_id?: number;
  status: RunStatus[];
  trigger: RunTrigger[];
  scheduled_from?: string;
  scheduled_to?: string;
  q?: string;
  /** When the run finished (what the dashboard's bars count by): from, inclusive, and before. */
  finished_from?: string;
  finished_to?: string;
}

/** The runs page's whole view, as its URL holds it (so that a link reproduces it). */
export interface RunView {
  filter: RunFilter;
  page: number;
  size: number;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/i;

/** ISO 8601 text with its offset, as the API takes times ("2026-12-01T09:00:00Z"). */
export function isIsoTime(text: string): boolean {
  return ISO.test(text.trim()) && !Number.isNaN(new Date(text.trim()).getTime());
}

function positive(text: string | null, fallback: number): number {
  const value = Number(text);
  return Number.isInteger(value) && value >= 1 ? value : fallback;
}

/** The view a URL's query says; anything it cannot read is left out, never an error. */
export function parseRunView(search: URLSearchParams): RunView {
  const task = Number(search.get("task"));
  const from = search.get("from") ?? "";
  const to = search.get("to") ?? "";
  const q = (search.get("q") ?? "").trim();
  const finishedFrom = search.get("finished_from") ?? "";
  const finishedTo = search.get("finished_to") ?? "";
  const size = positive(search.get("size"), DEFAULT_PAGE_SIZE);
  return {
    filter: {
      task_id: Number.isInteger(task) && task >= 1 ? task : undefined,
      status: unique(search.getAll("status").filter((s): s is RunStatus => RUN_STATUSES.includes(s as RunStatus))),
      trigger: unique(search.getAll("trigger").filter((t): t is RunTrigger => RUN_TRIGGERS.includes(t as RunTrigger))),
      scheduled_from: isIsoTime(from) ? from.trim() : undefined,
      scheduled_to: isIsoTime(to) ? to.trim() : undefined,
      q: q ? q.slice(0, 200) : undefined,
      ...(isIsoTime(finishedFrom) ? { finished_from: finishedFrom.trim() } : {}),
      ...(isIsoTime(finishedTo) ? { finished_to: finishedTo.trim() } : {}),
    },
    page: positive(search.get("page"), 1),
    size: (PAGE_SIZES as readonly number[]).includes(size) ? size : DEFAULT_PAGE_SIZE,
  };
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

/** The URL query of a view; defaults (page 1, the default size, no filter) are left out. */
export function runViewSearch(view: RunView): URLSearchParams {
  const search = new URLSearchParams();
  const { filter } = view;
  if (filter.task_id !== undefined) search.set("task", String(filter.task_id));
  for (const status of filter.status) search.append("status", status);
  for (const trigger of filter.trigger) search.append("trigger", trigger);
  if (filter.scheduled_from) search.set("from", filter.scheduled_from);
  if (filter.scheduled_to) search.set("to", filter.scheduled_to);
  if (filter.q) search.set("q", filter.q);
  if (filter.finished_from) search.set("finished_from", filter.finished_from);
  if (filter.finished_to) search.set("finished_to", filter.finished_to);
  if (view.page > 1) search.set("page", String(view.page));
  if (view.size !== DEFAULT_PAGE_SIZE) search.set("size", String(view.size));
  return search;
}

/** Whether the filter narrows anything (retrying "all matching" an empty filter means every run). */
export function isFiltered(filter: RunFilter): boolean {
  return activeFilterCount(filter) > 0;
}

/** How many of the filters narrow the list (the folded filters' button says "Filters (2 active)"). */
export function activeFilterCount(filter: RunFilter): number {
  return [
    filter.task_id !== undefined,
    filter.status.length > 0,
    filter.trigger.length > 0,
    !!filter.scheduled_from,
    !!filter.scheduled_to,
    !!filter.q,
    !!(filter.finished_from || filter.finished_to),
  ].filter(Boolean).length;
}

/** "2 of 3"; past what the policy allows (a retry by hand) "4 (3 planned)"; without a policy "2". */
export function attemptLabel(attempt: number, maxAttempts: number | null | undefined): string {
  if (!maxAttempts) return String(attempt);
  return attempt <= maxAttempts ? `${attempt} of ${maxAttempts}` : `${attempt} (${maxAttempts} planned)`;
}

/** The start of an error, on one line: what a table cell shows (the full text goes in its title). */
export function errorSnippet(error: string | null | undefined, max = 80): string {
  if (!error) return "";
  const line = (error.trim().split("\n")[0] ?? "").replace(/\s+/g, " ");
  return line.length > max ? `${line.slice(0, max - 1).trimEnd()}…` : line;
}

function ms(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const time = new Date(iso).getTime();
  return Number.isNaN(time) ? null : time;
}

/** How long a run waited to start once it could (from its available_at, when a retry's backoff
 * ended; a slot's time can be later than when it was queued): up to its start, or up to now while
 * still queued. Null when it has not waited (not due yet, skipped, cancelled before its time). */
export function queueWaitMs(run: Pick<Run, "available_at" | "started_at" | "status">, now: number): number | null {
  const available = ms(run.available_at);
  if (available === null) return null;
  const started = ms(run.started_at);
  if (started !== null) return Math.max(0, started - available);
  // Queued, but its time (a retry's backoff) has not come: it is not waiting for a worker yet.
  if (run.status === "queued") return now >= available ? now - available : null;
  return null;
}

/** How long the run has been running (ticking while it runs), or how long it ran. */
export function elapsedMs(run: Pick<Run, "started_at" | "finished_at" | "duration_ms" | "status">, now: number): number | null {
  const started = ms(run.started_at);
  if (run.status === "running" && started !== null) return Math.max(0, now - started);
  if (run.duration_ms !== null && run.duration_ms !== undefined) return run.duration_ms;
  const finished = ms(run.finished_at);
  return started !== null && finished !== null ? Math.max(0, finished - started) : null;
}

/** Who asked for a cancel, from the run's reason ("cancel requested by key:ops" → "key:ops"). */
export function cancelRequester(reason: string | null | undefined): string | null {
  const match = /^(?:cancel requested|cancelled) by (.+)$/.exec(reason ?? "");
  return match?.[1] ?? null;
}

/** The end of a slot's time window for the list's filter: the next microsecond after it (the API's
 * times are exclusive at the end), as ISO text that keeps every digit of the slot's own. */
export function slotEnd(scheduledFor: string): string {
  const match = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})$/.exec(scheduledFor);
  if (!match) return new Date(new Date(scheduledFor).getTime() + 1).toISOString();
  const micros = Number((match[2] ?? "").padEnd(6, "0")) + 1;
  if (micros < 1_000_000) return `${match[1]}.${String(micros).padStart(6, "0")}${match[3]}`;
  // 59.999999 + 1 µs: the next whole second (Date handles the carry).
  const next = new Date(new Date(`${match[1]}${match[3]}`).getTime() + 1000);
  return next.toISOString().replace(/\.\d{3}Z$/, ".000000Z");
}

export interface AttemptChain {
  /** The attempts of the run's slot, first to last. */
  attempts: Run[];
  /** "attempt 3 of 3, final" and the like. */
  label: string;
  /** Whether no attempt follows this one. */
  final: boolean;
  /** The attempt after this one, when there is one. */
  next: Run | null;
}

const ENDED: readonly RunStatus[] = ["succeeded", "failed", "timed_out", "cancelled", "skipped"];

/** Where a run stands among its slot's attempts. */
export function attemptChain(run: Run, slotRuns: Run[]): AttemptChain {
  const byId = new Map<number, Run>(slotRuns.filter((r) => r.scheduled_for === run.scheduled_for && r.task_id === run.task_id).map((r) => [r.id, r]));
  byId.set(run.id, run);
  const attempts = [...byId.values()].sort((a, b) => a.attempt - b.attempt || a.id - b.id);
  const next = attempts.find((r) => r.attempt > run.attempt || (r.attempt === run.attempt && r.id > run.id)) ?? null;
  const ended = ENDED.includes(run.status);
  const retryLeft = (run.status === "failed" || run.status === "timed_out") && !!run.max_attempts && run.attempt < run.max_attempts;
  const final = next === null && ended && !retryLeft;
  const base = `attempt ${attemptLabel(run.attempt, run.max_attempts)}`;
  let label = base;
  if (next) label = `${base}, followed by attempt ${next.attempt}`;
  else if (final) label = `${base}, final`;
  else if (retryLeft) label = `${base}, a retry follows`;
  return { attempts, label, final, next };
}

/** What clipped output starts with: "[… 1234 earlier bytes dropped …]". */
const DROPPED = /^\[… (\d+) earlier bytes dropped …\]\n/;

/** The output without the server's truncation note, and how many bytes the note says were dropped. */
export function splitTruncation(output: string): { text: string; dropped: number | null } {
  const match = DROPPED.exec(output);
  if (!match) return { text: output, dropped: null };
  return { text: output.slice(match[0].length), dropped: Number(match[1]) };
}

export interface Segment {
  text: string;
  /** The match's number (0-based) when this segment is a match. */
  match: number | null;
}

/** The text cut at each case-insensitive occurrence of `needle`, for highlighting. */
export function findMatches(text: string, needle: string): Segment[] {
  if (!needle) return [{ text, match: null }];
  const haystack = text.toLowerCase();
  const lower = needle.toLowerCase();
  const segments: Segment[] = [];
  let at = 0;
  let count = 0;
  for (let found = haystack.indexOf(lower); found !== -1; found = haystack.indexOf(lower, found + lower.length)) {
    if (found > at) segments.push({ text: text.slice(at, found), match: null });
    segments.push({ text: text.slice(found, found + needle.length), match: count++ });
    at = found + needle.length;
  }
  if (at < text.length || segments.length === 0) segments.push({ text: text.slice(at), match: null });
  return segments;
}

/** A file name for a run's downloaded output. */
export function outputFileName(runId: number): string {
  return `run-${runId}-output.txt`;
}

/** "23 runs", "1 run"; "1,020+ runs" when the server stopped counting (total_exact false). */
export function runCount(data: Pick<RunPage, "total" | "total_exact"> | undefined): string {
  const total = data?.total ?? 0;
  const more = data?.total_exact === false ? "+" : "";
  return `${total.toLocaleString("en-US")}${more} run${total === 1 && !more ? "" : "s"}`;
}
