import { describe, expect, it } from "vitest";
import type { Run } from "../api/types";
import {
  activeFilterCount,
  attemptChain,
  attemptLabel,
  cancelRequester,
  elapsedMs,
  errorSnippet,
  findMatches,
  isFiltered,
  isIsoTime,
  parseRunView,
  queueWaitMs,
  runCount,
  runViewSearch,
  slotEnd,
  splitTruncation,
} from "./runs";

function run(fields: Partial<Run>): Run {
  return {
    id: 1,
    task_id: 7,
    task_name: "t",
    trigger: "schedule",
    scheduled_for: "2026-12-02T10:00:00Z",
    attempt: 1,
    status: "failed",
    reason: null,
    queue: "default",
    priority: 0,
    queued_at: "2026-12-02T10:00:00Z",
    available_at: "2026-12-02T10:00:00Z",
    started_at: null,
    finished_at: null,
    duration_ms: null,
    worker: null,
    exit_code: null,
    http_status: null,
    output: null,
    error: null,
    cancel_requested: false,
    max_attempts: 3,
    ...fields,
  };
}

describe("the runs page's view in the URL", () => {
  it("reads every filter, the page and its size, and writes them back the same", () => {
    const search = new URLSearchParams(
      "task=12&status=failed&status=timed_out&trigger=retry&from=2026-12-01T09:00:00Z&to=2026-12-02T09:00:00%2B01:00&q=refused&page=3&size=50",
    );
    const view = parseRunView(search);
    expect(view).toEqual({
      filter: {
        task_id: 12,
        status: ["failed", "timed_out"],
        trigger: ["retry"],
        scheduled_from: "2026-12-01T09:00:00Z",
        scheduled_to: "2026-12-02T09:00:00+01:00",
        q: "refused",
      },
      page: 3,
      size: 50,
    });
    expect(parseRunView(runViewSearch(view))).toEqual(view);
    expect(runViewSearch(view).toString()).toBe(search.toString());
  });

  it("leaves out what it cannot read and the defaults", () => {
    const view = parseRunView(new URLSearchParams("task=x&status=nope&status=failed&status=failed&trigger=cron&from=yesterday&page=0&size=7&q=%20%20"));
    expect(view).toEqual({ filter: { task_id: undefined, status: ["failed"], trigger: [], scheduled_from: undefined, scheduled_to: undefined, q: undefined }, page: 1, size: 20 });
    expect(runViewSearch(view).toString()).toBe("status=failed");
  });

  it("takes only ISO times with an offset", () => {
    expect(isIsoTime("2026-12-01T09:00:00Z")).toBe(true);
    expect(isIsoTime("2026-12-01T09:00:00.123456-05:00")).toBe(true);
    expect(isIsoTime("2026-12-01T09:00")).toBe(false);
    expect(isIsoTime("2026-13-45T09:00:00Z")).toBe(false);
    expect(isIsoTime("0.5")).toBe(false);
  });
});

describe("active filters", () => {
  it("counts each filter that narrows the list once, however many values it holds", () => {
    expect(activeFilterCount({ status: [], trigger: [] })).toBe(0);
    expect(isFiltered({ status: [], trigger: [] })).toBe(false);
    expect(activeFilterCount({ status: ["failed", "timed_out"], trigger: [] })).toBe(1);
    expect(
      activeFilterCount({ task_id: 4, status: ["failed"], trigger: ["manual"], scheduled_from: "2026-12-01T00:00:00Z", scheduled_to: "2026-12-02T00:00:00Z", q: "refused" }),
    ).toBe(6);
    expect(isFiltered({ status: [], trigger: [], q: "refused" })).toBe(true);
    // A finished-time range (from a dashboard bar) narrows too: once, whichever ends are given.
    expect(activeFilterCount({ status: [], trigger: [], finished_from: "2026-12-01T00:00:00Z", finished_to: "2026-12-01T00:01:00Z" })).toBe(1);
    expect(isFiltered({ status: [], trigger: [], finished_to: "2026-12-01T00:01:00Z" })).toBe(true);
    expect(activeFilterCount({ status: [], trigger: [], q: "" })).toBe(0);
  });
});

describe("labels", () => {
  it("says the attempt out of the policy's", () => {
    expect(attemptLabel(2, 3)).toBe("2 of 3");
    expect(attemptLabel(4, 3)).toBe("4 (3 planned)");
    expect(attemptLabel(1, null)).toBe("1");
  });

  it("counts runs, with a plus where the server stopped counting", () => {
    expect(runCount({ total: 23, total_exact: true })).toBe("23 runs");
    expect(runCount({ total: 1, total_exact: true })).toBe("1 run");
    expect(runCount({ total: 1020, total_exact: false })).toBe("1,020+ runs");
    expect(runCount(undefined)).toBe("0 runs");
  });

  it("keeps the first line of an error, clipped", () => {
    expect(errorSnippet("connect: refused\n  at line 2")).toBe("connect: refused");
    expect(errorSnippet("x".repeat(100), 10)).toBe(`${"x".repeat(9)}…`);
    expect(errorSnippet(null)).toBe("");
  });

  it("finds who asked for a cancel in the reason", () => {
    expect(cancelRequester("cancel requested by key:ops")).toBe("key:ops");
    expect(cancelRequester("cancelled by key:admin")).toBe("key:admin");
    expect(cancelRequester("cancelled while its worker was stopping")).toBeNull();
    expect(cancelRequester(null)).toBeNull();
  });
});

describe("times", () => {
  const at = (iso: string) => new Date(iso).getTime();

  it("counts the queue wait from when the run could start, ticking while queued", () => {
    const started = run({ available_at: "2026-12-02T10:00:00Z", started_at: "2026-12-02T10:00:02.5Z", status: "succeeded" });
    expect(queueWaitMs(started, at("2026-12-02T11:00:00Z"))).toBe(2500);
    const queued = run({ status: "queued" });
    expect(queueWaitMs(queued, at("2026-12-02T10:00:07Z"))).toBe(7000);
    expect(queueWaitMs(queued, at("2026-12-02T09:59:50Z"))).toBeNull(); // not due yet
    expect(queueWaitMs(run({ status: "skipped" }), at("2026-12-02T10:00:07Z"))).toBeNull();
  });

  it("ticks the elapsed time while running, else says the duration", () => {
    const running = run({ status: "running", started_at: "2026-12-02T10:00:00Z" });
    expect(elapsedMs(running, at("2026-12-02T10:00:09Z"))).toBe(9000);
    expect(elapsedMs(run({ status: "failed", duration_ms: 1234 }), 0)).toBe(1234);
  });

  it("ends a slot's window one microsecond after it, keeping its digits", () => {
    expect(slotEnd("2026-12-02T10:00:00Z")).toBe("2026-12-02T10:00:00.000001Z");
    expect(slotEnd("2026-12-02T10:00:00.123456Z")).toBe("2026-12-02T10:00:00.123457Z");
    expect(slotEnd("2026-12-02T10:00:00.5+01:00")).toBe("2026-12-02T10:00:00.500001+01:00");
    expect(slotEnd("2026-12-02T10:00:59.999999Z")).toBe("2026-12-02T10:01:00.000000Z");
  });
});

describe("the attempt chain", () => {
  const first = run({ id: 10, attempt: 1, status: "failed" });
  const second = run({ id: 11, attempt: 2, status: "failed" });
  const third = run({ id: 12, attempt: 3, status: "failed" });
  const elsewhere = run({ id: 13, attempt: 1, scheduled_for: "2026-12-02T11:00:00Z" });

  it("says the last attempt is final and lists the slot's attempts in order", () => {
    const chain = attemptChain(third, [second, elsewhere, first]);
    expect(chain.label).toBe("attempt 3 of 3, final");
    expect(chain.final).toBe(true);
    expect(chain.attempts.map((r) => r.id)).toEqual([10, 11, 12]);
  });

  it("names the attempt that followed, or the retry to come", () => {
    expect(attemptChain(first, [first, second]).label).toBe("attempt 1 of 3, followed by attempt 2");
    expect(attemptChain(second, [first, second]).label).toBe("attempt 2 of 3, a retry follows");
    expect(attemptChain(run({ status: "succeeded" }), []).label).toBe("attempt 1 of 3, final");
    expect(attemptChain(run({ status: "running" }), []).label).toBe("attempt 1 of 3");
  });
});

describe("the log", () => {
  it("takes the server's truncation note off the kept output", () => {
    expect(splitTruncation("[… 4096 earlier bytes dropped …]\nline 9\n")).toEqual({ text: "line 9\n", dropped: 4096 });
    expect(splitTruncation("line 1\n")).toEqual({ text: "line 1\n", dropped: null });
  });

  it("cuts the text at each match, in any case", () => {
    expect(findMatches("Error: x error", "ERROR")).toEqual([
      { text: "Error", match: 0 },
      { text: ": x ", match: null },
      { text: "error", match: 1 },
    ]);
    expect(findMatches("abc", "")).toEqual([{ text: "abc", match: null }]);
    expect(findMatches("abc", "z")).toEqual([{ text: "abc", match: null }]);
  });
});
