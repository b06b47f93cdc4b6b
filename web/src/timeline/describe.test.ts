import { describe, expect, it } from "vitest";
import type { RunSpans } from "../api/types";
import { describeRun } from "./describe";

const T0 = Date.parse("2026-06-01T11:00:00Z");
const utc = new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", hour: "2-digit", minute: "2-digit", second: "2-digit" });

function spans(): RunSpans {
  return {
    from: new Date(T0).toISOString(),
    to: new Date(T0 + 3_600_000).toISOString(),
    now: new Date(T0 + 3_600_000).toISOString(),
    truncated: false,
    limit: 20000,
    tasks: [
      { id: 1, name: "orders", max_attempts: 3 },
      { id: 2, name: "gone", max_attempts: null },
    ],
    id: [10, 11, 12],
    task_id: [1, 1, 2],
    attempt: [2, 1, 1],
    status: ["failed", "queued", "running"],
    ready: [T0, T0 + 60_000, T0 + 120_000],
    started: [T0 + 40_000, null, T0 + 125_000],
    finished: [T0 + 100_500, null, null],
  };
}

describe("describeRun", () => {
  it("names the outcome, the attempt of the planned ones, start, queue wait and duration", () => {
    expect(describeRun(spans(), 0, T0 + 3_600_000, utc)).toEqual({
      id: 10,
      task: "orders",
      lines: ["failed, attempt 2 of 3", "ready 11:00:00", "started 11:00:40", "waited in the queue 40 s", "ran 1 min 1 s"],
    });
  });
  it("says how long a queued run has waited, and a running one has run", () => {
    expect(describeRun(spans(), 1, T0 + 100_000, utc).lines).toEqual(["queued, attempt 1 of 3", "ready 11:01:00", "waiting for 40 s"]);
    expect(describeRun(spans(), 2, T0 + 135_000, utc).lines).toEqual([
      "running, attempt 1",
      "ready 11:02:00",
      "started 11:02:05",
      "waited in the queue 5 s",
      "running for 10.0 s",
    ]);
  });
});
