import { describe, expect, it } from "vitest";
import { bulkQuestion, bulkRequest, bulkSummary, selectionSize } from "./bulk";

describe("bulk requests", () => {
  it("names the rows ticked by id", () => {
    expect(bulkRequest("pause", { ids: [3, 1] }, { q: "x", tags: ["a"] })).toEqual({ action: "pause", task_ids: [3, 1] });
  });

  it("sends the list's filter, and only what is set, for all matching", () => {
    expect(bulkRequest("run", { matching: 3412 }, { q: " billing ", tags: ["ops", "eu"], enabled: "false", last_status: "failed" })).toEqual({
      action: "run",
      filter: { q: "billing", tag: ["ops", "eu"], enabled: false, last_status: "failed" },
    });
    // No filter at all: every task.
    expect(bulkRequest("delete", { matching: 7 }, { q: "  ", tags: [] })).toEqual({ action: "delete", filter: {} });
  });

  it("counts the selection", () => {
    expect(selectionSize({ ids: [1, 2] })).toBe(2);
    expect(selectionSize({ matching: 3412 })).toBe(3412);
  });
});

describe("bulk wording", () => {
  it("asks with the real count", () => {
    expect(bulkQuestion("pause", 3412)).toBe(`Pause ${(3412).toLocaleString()} tasks?`);
    expect(bulkQuestion("delete", 1)).toBe("Delete 1 task?");
    expect(bulkQuestion("run", 2)).toBe("Run 2 tasks?");
  });

  it("says what was done and what was left alone", () => {
    expect(bulkSummary({ action: "pause", matched: 3, done: [1, 2, 3], unchanged: [], run_ids: [] })).toBe("Paused 3 tasks.");
    expect(bulkSummary({ action: "pause", matched: 3, done: [1, 2], unchanged: [3], run_ids: [] })).toBe("Paused 2 tasks (1 was paused already).");
    expect(bulkSummary({ action: "resume", matched: 3, done: [1], unchanged: [2, 3], run_ids: [] })).toBe("Resumed 1 task (2 were enabled already).");
    expect(bulkSummary({ action: "run", matched: 1, done: [1], unchanged: [], run_ids: [9] })).toBe("Started 1 task.");
  });
});
