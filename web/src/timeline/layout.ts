// Pure geometry of the timeline: which row each run goes in, where it is drawn, which run is under the
// pointer, the window's zoom and its time ticks. No DOM here: the canvas component draws from these.
import type { RunSpans, RunStatus } from "../api/types";

export type TimelineMode = "task" | "overall";

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const MIN_WINDOW = HOUR;
export const MAX_WINDOW = 7 * DAY;

export interface Row {
  label: string;
  taskId?: number;
}

export interface TimelineLayout {
  rows: Row[];
  /** For each row, the indexes of its runs, by start. */
  byRow: Int32Array[];
}

/** Where run `i` begins (when it could start) and ends (finished, or now while it has not). */
export function extent(spans: RunSpans, i: number, now: number): { ready: number; start: number; end: number } {
  const end = spans.finished[i] ?? now;
  const started = spans.started[i] ?? null;
  const ready = Math.min(spans.ready[i] ?? end, end);
  return { ready, start: started === null ? end : Math.max(ready, Math.min(started, end)), end: Math.max(end, ready) };
}

function indexRows(count: number, rowOf: Int32Array, rowCount: number): Int32Array[] {
  const sizes = new Int32Array(rowCount);
  for (let i = 0; i < count; i++) sizes[rowOf[i]!]!++;
  const rows = Array.from({ length: rowCount }, (_, r) => new Int32Array(sizes[r]!));
  const fill = new Int32Array(rowCount);
  for (let i = 0; i < count; i++) {
    const r = rowOf[i]!;
    rows[r]![fill[r]!++] = i;
  }
  return rows;
}

/** One row per task (the server lists them by name); runs come ordered by when they could start. */
export function layoutByTask(spans: RunSpans): TimelineLayout {
  const rowOfTask = new Map<number, number>();
  spans.tasks.forEach((task, index) => rowOfTask.set(task.id, index));
  const rowOf = new Int32Array(spans.id.length);
  for (let i = 0; i < spans.id.length; i++) rowOf[i] = rowOfTask.get(spans.task_id[i]!) ?? 0;
  return {
    rows: spans.tasks.map((task) => ({ label: task.name, taskId: task.id })),
    byRow: indexRows(spans.id.length, rowOf, spans.tasks.length),
  };
}

/** Every run in as few lanes as never overlap (first free lane): the height shows how many ran at once. */
export function layoutOverall(spans: RunSpans, now: number, maxLanes = 500): TimelineLayout {
  const count = spans.id.length;
  const order = Array.from({ length: count }, (_, i) => i);
  const ends = new Float64Array(count);
  const starts = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const e = extent(spans, i, now);
    starts[i] = e.ready;
    ends[i] = e.end;
  }
  order.sort((a, b) => starts[a]! - starts[b]! || a - b);
  const laneEnd: number[] = [];
  const rowOf = new Int32Array(count);
  for (const i of order) {
    const start = starts[i]!;
    let lane = laneEnd.findIndex((end) => end <= start);
    if (lane === -1) {
      if (laneEnd.length < maxLanes) {
        lane = laneEnd.length;
        laneEnd.push(0);
      } else {
        // Too many at once to give each a lane: share the one that frees first.
        lane = laneEnd.indexOf(Math.min(...laneEnd));
      }
    }
    laneEnd[lane] = Math.max(ends[i]!, start + 1);
    rowOf[i] = lane;
  }
  const byRow = indexRows(count, rowOf, laneEnd.length);
  for (const row of byRow) row.sort((a, b) => starts[a]! - starts[b]! || a - b);
  return { rows: laneEnd.map((_, lane) => ({ label: `lane ${lane + 1}` })), byRow };
}

export interface Scale {
  from: number;
  to: number;
  left: number;
  width: number;
}

export function toX(scale: Scale, t: number): number {
  return scale.left + ((t - scale.from) / (scale.to - scale.from)) * scale.width;
}

export function toTime(scale: Scale, x: number): number {
  return scale.from + ((x - scale.left) / scale.width) * (scale.to - scale.from);
}

/** The run of `row` under time `t`, the latest-starting one if several; else the nearest within `slack` ms either side. */
export function hitTest(spans: RunSpans, layout: TimelineLayout, row: number, t: number, slack: number, now: number): number | null {
  const runs = layout.byRow[row];
  if (!runs?.length) return null;
  // Binary search: the last run whose (ready) start is at or before t + slack.
  let lo = 0;
  let hi = runs.length - 1;
  let last = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (extent(spans, runs[mid]!, now).ready <= t + slack) {
      last = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // Runs of one row may overlap: look back a little way for one that still covers t. One the
  // pointer is on wins over one only within the slack (zoomed out, a later run a pixel or two to the
  // right must not hide the one under the pointer).
  let near: number | null = null;
  let nearGap = Infinity;
  for (let k = last; k >= 0 && k > last - 200; k--) {
    const e = extent(spans, runs[k]!, now);
    if (e.ready <= t && e.end >= t) return runs[k]!;
    const gap = t < e.ready ? e.ready - t : t - e.end;
    if (gap <= slack && gap < nearGap) {
      near = runs[k]!;
      nearGap = gap;
    }
  }
  return near;
}

/** A window of `width` ms around `center`, its width kept within an hour and a week. */
export function zoomWindow(from: number, to: number, factor: number, center = (from + to) / 2): { from: number; to: number } {
  const width = Math.min(MAX_WINDOW, Math.max(MIN_WINDOW, (to - from) * factor));
  const share = to > from ? (center - from) / (to - from) : 0.5;
  const start = Math.round(center - width * share);
  return { from: start, to: start + Math.round(width) };
}

const STEPS = [MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY];

/** Tick times for the axis, at least `minGap` px apart, on round local times. */
export function ticks(scale: Scale, minGap = 90, offsetMinutes = 0): { step: number; times: number[] } {
  const span = scale.to - scale.from;
  const step = STEPS.find((s) => (s / span) * scale.width >= minGap) ?? DAY;
  const offset = offsetMinutes * MINUTE;
  const first = Math.ceil((scale.from - offset) / step) * step + offset;
  const times: number[] = [];
  for (let t = first; t < scale.to; t += step) times.push(t);
  return { step, times };
}

/** Queue wait and run time of a run, in ms (null where it has not started). */
export function waitAndDuration(spans: RunSpans, i: number, now: number): { wait: number | null; duration: number | null } {
  const started = spans.started[i] ?? null;
  if (started === null) return { wait: null, duration: null };
  return { wait: Math.max(0, started - (spans.ready[i] ?? started)), duration: (spans.finished[i] ?? now) - started };
}

export const FINAL: RunStatus[] = ["succeeded", "failed", "timed_out", "cancelled", "skipped"];
