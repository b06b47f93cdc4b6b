import { describe, expect, it } from "vitest";
import type { RunSpans } from "../api/types";
import { DAY, extent, hitTest, HOUR, layoutByTask, layoutOverall, MINUTE, ticks, toTime, toX, waitAndDuration, zoomWindow } from "./layout";

const T0 = Date.parse("2026-06-01T11:00:00Z");
const NOW = T0 + HOUR;

/** Runs as [task, ready, started, finished] in minutes after T0 (null: not yet). */
function spans(runs: [number, number, number | null, number | null][]): RunSpans {
  const at = (m: number | null) => (m === null ? null : T0 + m * MINUTE);
  return {
    from: new Date(T0).toISOString(),
    to: new Date(NOW).toISOString(),
    now: new Date(NOW).toISOString(),
    truncated: false,
    limit: 20000,
    tasks: [...new Set(runs.map((r) => r[0]))].sort().map((id) => ({ id, name: `task-${id}`, max_attempts: 1 })),
    id: runs.map((_, i) => i + 100),
    task_id: runs.map((r) => r[0]),
    attempt: runs.map(() => 1),
    status: runs.map((r) => (r[3] === null ? (r[2] === null ? "queued" : "running") : "succeeded")),
    ready: runs.map((r) => at(r[1])!),
    started: runs.map((r) => at(r[2])),
    finished: runs.map((r) => at(r[3])),
  };
}

describe("extent", () => {
  it("ends a running run now and a queued one too", () => {
    const s = spans([
      [1, 0, 1, 5],
      [1, 50, 52, null],
      [1, 58, null, null],
    ]);
    expect(extent(s, 0, NOW)).toEqual({ ready: T0, start: T0 + MINUTE, end: T0 + 5 * MINUTE });
    expect(extent(s, 1, NOW).end).toBe(NOW);
    expect(extent(s, 2, NOW)).toEqual({ ready: T0 + 58 * MINUTE, start: NOW, end: NOW });
    expect(waitAndDuration(s, 0, NOW)).toEqual({ wait: MINUTE, duration: 4 * MINUTE });
    expect(waitAndDuration(s, 2, NOW)).toEqual({ wait: null, duration: null });
  });
});

describe("layouts", () => {
  const s = spans([
    [2, 0, 0, 10],
    [1, 5, 5, 20],
    [2, 8, 9, 12],
    [1, 30, 30, 31],
  ]);
  it("puts each task's runs in its row", () => {
    const layout = layoutByTask(s);
    expect(layout.rows.map((r) => r.label)).toEqual(["task-1", "task-2"]);
    expect([...layout.byRow[0]!]).toEqual([1, 3]);
    expect([...layout.byRow[1]!]).toEqual([0, 2]);
  });
  it("packs every run into as few lanes as never overlap", () => {
    const layout = layoutOverall(s, NOW);
    expect(layout.rows).toHaveLength(3); // 0–10, 5–20 and 8–12 overlap at minute 9
    expect([...layout.byRow[0]!]).toEqual([0, 3]);
    expect([...layout.byRow[1]!]).toEqual([1]);
    expect([...layout.byRow[2]!]).toEqual([2]);
  });
  it("shares lanes past the cap", () => {
    expect(layoutOverall(s, NOW, 2).rows).toHaveLength(2);
  });
  it("handles ten thousand runs", () => {
    const many = spans(Array.from({ length: 10_000 }, (_, i) => [i % 50, (i % 600) / 10, (i % 600) / 10 + 0.1, (i % 600) / 10 + 0.5] as [number, number, number, number]));
    expect(layoutByTask(many).byRow.reduce((n, row) => n + row.length, 0)).toBe(10_000);
    expect(layoutOverall(many, NOW).byRow.reduce((n, row) => n + row.length, 0)).toBe(10_000);
  });
});

describe("hitTest", () => {
  const s = spans([
    [1, 0, 1, 10],
    [1, 5, 6, 8],
    [1, 30, 31, 32],
  ]);
  const layout = layoutByTask(s);
  it("finds the run under the pointer, the later one where two overlap", () => {
    expect(hitTest(s, layout, 0, T0 + 3 * MINUTE, 0, NOW)).toBe(0);
    expect(hitTest(s, layout, 0, T0 + 7 * MINUTE, 0, NOW)).toBe(1);
    expect(hitTest(s, layout, 0, T0 + 9 * MINUTE, 0, NOW)).toBe(0);
    expect(hitTest(s, layout, 0, T0 + 31 * MINUTE, 0, NOW)).toBe(2);
  });
  it("finds nothing between runs or on an empty row, and honours the slack", () => {
    expect(hitTest(s, layout, 0, T0 + 20 * MINUTE, 0, NOW)).toBeNull();
    expect(hitTest(s, layout, 5, T0, 0, NOW)).toBeNull();
    expect(hitTest(s, layout, 0, T0 + 33 * MINUTE, 2 * MINUTE, NOW)).toBe(2);
  });
  it("prefers the run under the pointer to a later one within the slack", () => {
    // Zoomed out, run 2 starts a pixel after run 0's end: the pointer on run 0 finds run 0.
    expect(hitTest(s, layout, 0, T0 + 9 * MINUTE, 25 * MINUTE, NOW)).toBe(0);
    expect(hitTest(s, layout, 0, T0 + 20 * MINUTE, 15 * MINUTE, NOW)).toBe(2);
    expect(hitTest(s, layout, 0, T0 + 19 * MINUTE, 10 * MINUTE, NOW)).toBe(0); // the nearest
  });
});

describe("scale, zoom and ticks", () => {
  const scale = { from: T0, to: NOW, left: 100, width: 600 };
  it("maps times to pixels and back", () => {
    expect(toX(scale, T0 + 30 * MINUTE)).toBe(400);
    expect(toTime(scale, 400)).toBe(T0 + 30 * MINUTE);
  });
  it("zooms between an hour and a week, keeping the point under the pointer", () => {
    expect(zoomWindow(T0, NOW, 0.5)).toEqual({ from: T0, to: NOW }); // an hour is the closest
    expect(zoomWindow(T0, T0 + 6 * DAY, 4)).toEqual({ from: T0 + 3 * DAY - 3.5 * DAY, to: T0 + 3 * DAY + 3.5 * DAY });
    const zoomed = zoomWindow(T0, T0 + 4 * HOUR, 0.5, T0 + HOUR);
    expect(zoomed).toEqual({ from: T0 + 30 * MINUTE, to: T0 + 2.5 * HOUR });
  });
  it("picks round steps at least the gap apart", () => {
    const hourTicks = ticks(scale, 90);
    expect(hourTicks.step).toBe(10 * MINUTE);
    expect(hourTicks.times[0]).toBe(T0);
    expect(hourTicks.times).toHaveLength(6);
    expect(ticks({ ...scale, to: T0 + 7 * DAY }, 90).step).toBe(DAY);
  });
});
