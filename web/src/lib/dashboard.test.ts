import { describe, expect, it } from "vitest";
import { formatAge, overdueSeconds, overdueText, runsLink, serverNow } from "./dashboard";
import { parseRunView } from "./runs";

describe("runsLink", () => {
  it("uses the runs page's own URL names, repeating status and trigger", () => {
    expect(
      runsLink({
        status: ["failed", "timed_out"],
        trigger: ["schedule"],
        scheduled_from: "2026-06-01T11:00:00Z",
        scheduled_to: "2026-06-01T12:00:00Z",
        task_id: 7,
        q: "50%",
      }),
    ).toBe(
      "/runs?task=7&status=failed&status=timed_out&trigger=schedule&from=2026-06-01T11%3A00%3A00Z&to=2026-06-01T12%3A00%3A00Z&q=50%25",
    );
  });
  it("is read back by the runs page as the same filter", () => {
    const link = runsLink({ status: ["failed"], scheduled_from: "2026-06-01T11:00:00Z", scheduled_to: "2026-06-01T12:00:00.500Z", task_id: 3 });
    const view = parseRunView(new URLSearchParams(link.split("?")[1]));
    expect(view.filter).toEqual({
      task_id: 3,
      status: ["failed"],
      trigger: [],
      scheduled_from: "2026-06-01T11:00:00Z",
      scheduled_to: "2026-06-01T12:00:00.500Z",
      q: undefined,
    });
  });
  it("carries a finished-time range (what the bars count by) to the runs page", () => {
    const link = runsLink({ status: ["failed"], finished_from: "2026-06-01T11:54:00Z", finished_to: "2026-06-01T11:55:00Z" });
    expect(link).toBe("/runs?status=failed&finished_from=2026-06-01T11%3A54%3A00Z&finished_to=2026-06-01T11%3A55%3A00Z");
    const view = parseRunView(new URLSearchParams(link.split("?")[1]));
    expect(view.filter.finished_from).toBe("2026-06-01T11:54:00Z");
    expect(view.filter.finished_to).toBe("2026-06-01T11:55:00Z");
    expect(view.filter.scheduled_from).toBeUndefined();
  });
  it("is the bare runs page without a filter", () => {
    expect(runsLink({})).toBe("/runs");
    expect(runsLink({ status: [] })).toBe("/runs");
  });
});

describe("formatAge", () => {
  it.each([
    [0, "0 s"],
    [40.9, "40 s"],
    [60, "1 min"],
    [200, "3 min 20 s"],
    [3600, "1 h"],
    [7500, "2 h 5 min"],
    [86_400 * 3 + 3600 * 4, "3 d 4 h"],
    [-5, "0 s"],
  ])("%s s is %s", (seconds, text) => {
    expect(formatAge(seconds)).toBe(text);
  });
});

describe("overdue", () => {
  const due = "2026-06-01T12:00:00Z";
  const at = (seconds: number) => Date.parse(due) + seconds * 1000;
  it("says how late a slot is, not 'just now'", () => {
    expect(overdueText(due, at(40))).toBe("overdue by 40 s");
    expect(overdueText(due, at(125))).toBe("overdue by 2 min 5 s");
    expect(overdueSeconds(due, at(40.5))).toBe(40);
  });
  it("is nothing before the slot or within its first second", () => {
    expect(overdueText(due, at(-30))).toBeNull();
    expect(overdueText(due, at(0.5))).toBeNull();
    expect(overdueSeconds(due, at(-1))).toBe(0);
  });
});

describe("serverNow", () => {
  it("moves on from the server's time by the browser's elapsed time", () => {
    expect(serverNow("2026-06-01T12:00:00Z", 1000, 4000)).toBe(Date.parse("2026-06-01T12:00:03Z"));
  });
});
