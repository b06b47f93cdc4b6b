import { describe, expect, it } from "vitest";
import type { TaskSpec } from "../api/types";
import { conflictRows, mergeSpecs } from "./merge";

const base = {
  name: "nightly",
  description: "old",
  tags: ["a"],
  enabled: true,
  action: { type: "http", method: "GET", url: "https://x.test/a", headers: { "X-Token": "********" }, body: null, expect_status: null, follow_redirects: true },
  schedule: { type: "interval", seconds: 60, start_at: null, end_at: null, jitter_seconds: 0 },
  timeout_seconds: 30,
  retry: { max_attempts: 3, backoff_seconds: 10, backoff_factor: 2, max_backoff_seconds: 3600, jitter: 0.2 },
  priority: 0,
  queue: "default",
} as unknown as TaskSpec;

function edit(change: (spec: Record<string, unknown>) => void): TaskSpec {
  const copy = structuredClone(base) as unknown as Record<string, unknown>;
  change(copy);
  return copy as unknown as TaskSpec;
}

describe("conflictRows and mergeSpecs", () => {
  it("keeps their description and your timeout when each changed a different field", () => {
    const theirs = edit((s) => (s.description = "theirs"));
    const yours = edit((s) => (s.timeout_seconds = 90));
    const rows = conflictRows(base, theirs, yours);
    expect(rows.map((r) => [r.path, r.changedBy])).toEqual([
      ["description", "theirs"],
      ["timeout_seconds", "yours"],
    ]);
    const merged = mergeSpecs(theirs, rows) as unknown as Record<string, unknown>;
    expect(merged.description).toBe("theirs");
    expect(merged.timeout_seconds).toBe(90);
  });

  it("asks which side wins where both changed one field, yours unless told", () => {
    const theirs = edit((s) => ((s.retry as Record<string, unknown>).max_attempts = 5));
    const yours = edit((s) => ((s.retry as Record<string, unknown>).max_attempts = 7));
    const rows = conflictRows(base, theirs, yours);
    expect(rows).toMatchObject([{ path: "retry.max_attempts", base: 3, theirs: 5, yours: 7, changedBy: "both" }]);
    expect((mergeSpecs(theirs, rows).retry as { max_attempts: number }).max_attempts).toBe(7);
    expect((mergeSpecs(theirs, rows, { "retry.max_attempts": "theirs" }).retry as { max_attempts: number }).max_attempts).toBe(5);
  });

  it("marks a field both set to the same value, and removes what you removed", () => {
    const theirs = edit((s) => (s.tags = ["a", "b"]));
    const yours = edit((s) => {
      s.tags = ["a", "b"];
      (s.action as { headers: Record<string, string> }).headers = {};
    });
    const rows = conflictRows(base, theirs, yours);
    expect(rows.map((r) => [r.path, r.changedBy])).toEqual([
      ["action.headers.X-Token", "yours"],
      ["tags", "both-same"],
    ]);
    const merged = mergeSpecs(theirs, rows);
    expect((merged.action as { headers: Record<string, string> }).headers).toEqual({});
    expect(merged.tags).toEqual(["a", "b"]);
  });

  it("treats an action whose type changed as one field, never a mix of two kinds", () => {
    const theirs = edit((s) => (s.action = { type: "shell", command: ["true"], env: {}, cwd: null }));
    const yours = edit((s) => ((s.action as Record<string, unknown>).url = "https://x.test/b"));
    const rows = conflictRows(base, theirs, yours);
    expect(rows.map((r) => [r.path, r.changedBy])).toEqual([["action", "both"]]);
    expect(mergeSpecs(theirs, rows).action).toEqual((yours as { action: unknown }).action);
    expect(mergeSpecs(theirs, rows, { action: "theirs" }).action).toEqual((theirs as { action: unknown }).action);
  });

  it("takes your whole schedule when you replaced it and they changed a part of it", () => {
    const theirs = edit((s) => ((s.schedule as Record<string, unknown>).seconds = 120));
    const yours = edit((s) => (s.schedule = null));
    const rows = conflictRows(base, theirs, yours);
    expect(rows).toMatchObject([{ path: "schedule", changedBy: "both", yours: null }]);
    expect(mergeSpecs(theirs, rows).schedule).toBeNull();
  });
});
