import { describe, expect, it } from "vitest";
import type { Task } from "../api/types";
import { duplicateForm, emptyForm, formFieldFor, formFromTask, mapApiErrors, MASK, scheduleFromValues, specFromValues, validateSchedule, validateTask } from "./taskForm";

function task(overrides: Partial<Task> = {}): Task {
  return {
    id: 7,
    name: "nightly report",
    description: "sends the report",
    tags: ["reports"],
    enabled: true,
    action: { type: "http", method: "POST", url: "https://example.com/hook", headers: { "X-Token": "secret" }, body: { a: 1 }, expect_status: [200, 204], follow_redirects: false },
    schedule: { type: "cron", expression: "0 2 * * *", timezone: "Europe/Berlin", start_at: null, end_at: null, jitter_seconds: 0 },
    timeout_seconds: 120,
    retry: { max_attempts: 5, backoff_seconds: 1, backoff_factor: 3, max_backoff_seconds: 60, jitter: 0.1 },
    concurrency_policy: "allow",
    misfire_policy: "skip",
    misfire_grace_seconds: 30,
    priority: 5,
    queue: "reports",
    next_run_at: null,
    last_run: null,
    schedule_description: "At 02:00 every day",
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
    version: 3,
    ...overrides,
  };
}

describe("validateTask", () => {
  it("requires a name and a URL for a new HTTP task", () => {
    const errors = validateTask(emptyForm());
    expect(errors.name).toMatch(/name/i);
    expect(errors["action.url"]).toMatch(/URL/);
  });

  it("rejects non-http URLs, bad status codes and invalid JSON bodies", () => {
    const values = emptyForm();
    values.name = "x";
    values.action.url = "ftp://example.com";
    values.action.expect_status = "200, 9000";
    values.action.bodyMode = "json";
    values.action.body = "{not json";
    const errors = validateTask(values);
    expect(errors["action.url"]).toMatch(/http/);
    expect(errors["action.expect_status"]).toMatch(/9000/);
    expect(errors["action.body"]).toMatch(/JSON/);
  });

  it("leaves name patterns to the server, whose 422 shows beside the field", () => {
    const values = emptyForm();
    values.name = " padded ";
    values.action.url = "https://example.com";
    values.tags = ["ok", "not ok"];
    values.queue = "bad queue";
    const errors = validateTask(values);
    expect(errors.name).toMatch(/spaces/);
    expect(errors.tags).toBeUndefined();
    expect(errors.queue).toBeUndefined();
    expect(formFieldFor("tags.1")).toBe("tags");
  });

  it("validates shell and python actions per type", () => {
    const shell = emptyForm();
    shell.name = "s";
    shell.action.type = "shell";
    shell.action.env = [{ key: "1BAD", value: "x" }, { key: "", value: "y" }, { key: "1bad", value: "z" }];
    const shellErrors = validateTask(shell);
    expect(shellErrors["action.command"]).toBeDefined();
    // The pattern is the server's; a nameless or repeated row would vanish from the request.
    expect(shellErrors["action.env.0.key"]).toBeUndefined();
    expect(shellErrors["action.env.1.key"]).toMatch(/required/i);
    expect(shellErrors["action.env.2.key"]).toMatch(/duplicate/i);

    const python = emptyForm();
    python.name = "p";
    python.action.type = "python";
    python.action.function = "";
    python.action.args = "{}";
    python.action.kwargs = "[]";
    const errors = validateTask(python);
    expect(errors["action.function"]).toMatch(/registered/);
    expect(errors["action.args"]).toMatch(/array/);
    expect(errors["action.kwargs"]).toMatch(/object/);
    python.action.function = "os.system; rm";
    expect(validateTask(python)["action.function"]).toBeUndefined();
  });

  it("checks number ranges", () => {
    const values = emptyForm();
    values.name = "n";
    values.action.url = "https://example.com";
    values.retry.max_attempts = 0;
    values.retry.jitter = 2;
    values.priority = 1.5;
    values.timeout_seconds = 0;
    const errors = validateTask(values);
    expect(errors["retry.max_attempts"]).toMatch(/at least 1/);
    expect(errors["retry.jitter"]).toMatch(/at most 1/);
    expect(errors.priority).toMatch(/whole/);
    expect(errors.timeout_seconds).toMatch(/more than 0/);
  });

  it("accepts a complete task", () => {
    const values = emptyForm();
    values.name = "ok";
    values.action.url = "https://example.com/hook";
    expect(validateTask(values)).toEqual({});
  });
});

describe("validateSchedule", () => {
  it("counts cron fields and needs a zone", () => {
    const schedule = { ...emptyForm().schedule, type: "cron" as const, expression: "* * *", timezone: "" };
    const errors = validateSchedule(schedule);
    expect(errors["schedule.expression"]).toMatch(/5 fields/);
    expect(errors["schedule.timezone"]).toBeDefined();
  });

  it("accepts macros and 6-field expressions", () => {
    for (const expression of ["@daily", "*/10 * * * * *", "0 9 * * 1-5"]) {
      expect(validateSchedule({ ...emptyForm().schedule, type: "cron", expression })).toEqual({});
    }
  });

  it("needs a positive whole interval and an ordered window", () => {
    const schedule = { ...emptyForm().schedule, type: "interval" as const, every: 0 as const, start_at: "2030-01-02T00:00", end_at: "2030-01-01T00:00" };
    const errors = validateSchedule(schedule);
    expect(errors["schedule.every"]).toBeDefined();
    expect(errors["schedule.end_at"]).toMatch(/after/);
  });

  it("needs a time for a one-off", () => {
    expect(validateSchedule({ ...emptyForm().schedule, type: "once", at: "" })["schedule.at"]).toBeDefined();
  });
});

describe("conversion", () => {
  it("turns interval units into seconds", () => {
    const schedule = { ...emptyForm().schedule, type: "interval" as const, every: 2, unit: "hours" as const };
    expect(scheduleFromValues(schedule)).toMatchObject({ type: "interval", seconds: 7200, jitter_seconds: 0, start_at: null, end_at: null });
  });

  it("round-trips a task through the form", () => {
    const original = task();
    const spec = specFromValues(formFromTask(original));
    expect(spec).toEqual({
      name: original.name,
      description: original.description,
      tags: original.tags,
      enabled: true,
      action: original.action,
      schedule: original.schedule,
      timeout_seconds: 120,
      retry: original.retry,
      concurrency_policy: "allow",
      misfire_policy: "skip",
      misfire_grace_seconds: 30,
      priority: 5,
      queue: "reports",
      notify: null,
      retention: null,
    });
  });

  it("shows a stored secret as kept, never as the mask, and sends the mask back to keep it", () => {
    const original = task({ action: { ...task().action, headers: { Authorization: MASK, Accept: MASK } } as Task["action"] });
    const values = formFromTask(original);
    expect(values.action.headers).toEqual([
      { key: "Authorization", value: "", kept: true },
      { key: "Accept", value: "", kept: true },
    ]);
    // Replacing one: the new value goes out, the other stays kept.
    values.action.headers[0] = { key: "Authorization", value: "Bearer new" };
    const action = specFromValues(values).action as { headers: Record<string, string> };
    expect(action.headers).toEqual({ Authorization: "Bearer new", Accept: MASK });
  });

  it("duplicates a task as a copy whose secret values must be entered again", () => {
    const original = task({ action: { type: "shell", command: ["backup"], env: { TOKEN: MASK }, cwd: null } });
    const values = duplicateForm(original);
    expect(values.name).toBe("nightly report (copy)");
    expect(values.action.env).toEqual([{ key: "TOKEN", value: "", retype: true }]);
    expect(validateTask(values)["action.env.0.value"]).toMatch(/not copied/);
    values.action.env[0] = { key: "TOKEN", value: "t0ken", retype: true };
    expect(validateTask(values)["action.env.0.value"]).toBeUndefined();
    expect((specFromValues(values).action as { env: Record<string, string> }).env).toEqual({ TOKEN: "t0ken" });
  });

  it("sends a task's retention overrides back as they were", () => {
    const retention = { success_days: 7, failure_days: 30, keep_last: 10 };
    expect(specFromValues(formFromTask(task({ retention }))).retention).toEqual(retention);
  });

  it("keeps a task's own notification rules, and follows the global ones otherwise", () => {
    const rules = { on_failure: false, on_recovery: true, consecutive_failures: 3, late_start_seconds: 90, long_running_seconds: null, no_success_hours: 6 };
    const values = formFromTask(task({ notify: rules }));
    expect(values.notifyMode).toBe("own");
    expect(specFromValues(values).notify).toEqual(rules);
    values.notifyMode = "global";
    expect(specFromValues(values).notify).toBeNull();
  });

  it("checks the ranges of a task's own rules", () => {
    const values = formFromTask(task());
    values.notifyMode = "own";
    values.notify.consecutive_failures = 1;
    values.notify.no_success_hours = 0;
    const errors = validateTask(values);
    expect(errors["notify.consecutive_failures"]).toMatch(/at least 2/);
    expect(errors["notify.no_success_hours"]).toMatch(/more than 0/);
    values.notifyMode = "global";
    expect(validateTask(values)["notify.consecutive_failures"]).toBeUndefined();
  });

  it("reads a cron schedule's start and end on its own zone's wall clock, both ways", () => {
    const schedule = { type: "cron" as const, expression: "30 2 * * *", timezone: "America/New_York", start_at: "2027-01-04T13:00:00Z", end_at: "2027-07-01T04:00:00Z", jitter_seconds: 0 };
    const values = formFromTask(task({ schedule }));
    expect(values.schedule).toMatchObject({ start_at: "2027-01-04T08:00", end_at: "2027-07-01T00:00" });
    expect(scheduleFromValues(values.schedule)).toMatchObject({ start_at: "2027-01-04T13:00:00.000Z", end_at: "2027-07-01T04:00:00.000Z" });
    // Another zone reads the same wall times as other instants.
    expect(scheduleFromValues({ ...values.schedule, timezone: "Europe/Berlin" })).toMatchObject({ start_at: "2027-01-04T07:00:00.000Z" });
    // An interval has no zone of its own: the browser's wall clock.
    const interval = { ...emptyForm().schedule, type: "interval" as const, start_at: "2027-01-04T08:00" };
    expect(scheduleFromValues(interval)).toMatchObject({ start_at: new Date("2027-01-04T08:00").toISOString() });
  });

  it("orders a cron window in the schedule's zone", () => {
    const schedule = { ...emptyForm().schedule, type: "cron" as const, timezone: "Pacific/Kiritimati", start_at: "2030-01-02T00:00", end_at: "2030-01-01T23:00" };
    expect(validateSchedule(schedule)["schedule.end_at"]).toMatch(/after/);
  });

  it("shows an interval in its largest whole unit", () => {
    const values = formFromTask(task({ schedule: { type: "interval", seconds: 5400, start_at: null, end_at: null, jitter_seconds: 0 } }));
    expect(values.schedule).toMatchObject({ type: "interval", every: 90, unit: "minutes" });
  });

  it("builds shell and python actions", () => {
    const values = emptyForm();
    values.name = "s";
    values.action.type = "shell";
    values.action.command = "/usr/bin/env\necho\nhello world\n";
    values.action.env = [{ key: "A", value: "1" }];
    expect(specFromValues(values).action).toEqual({ type: "shell", command: ["/usr/bin/env", "echo", "hello world"], env: { A: "1" }, cwd: null });
    values.action.type = "python";
    values.action.function = "reports.nightly";
    values.action.args = "[1, \"a\"]";
    values.action.kwargs = "{\"day\": 2}";
    expect(specFromValues(values).action).toEqual({ type: "python", function: "reports.nightly", args: [1, "a"], kwargs: { day: 2 } });
  });

  it("makes a manual-only task when there is no schedule", () => {
    const values = emptyForm();
    values.schedule.type = "none";
    expect(scheduleFromValues(values.schedule)).toBeNull();
  });
});

describe("API error paths", () => {
  it.each([
    ["name", "name"],
    ["schedule.expression", "schedule.expression"],
    ["schedule.seconds", "schedule.every"],
    ["schedule.cron.expression", "schedule.expression"],
    ["body.action.url", "action.url"],
    ["action.command.2", "action.command"],
    ["action.headers.X-Token", "action.headers"],
    ["retry.max_attempts", "retry.max_attempts"],
    ["schedule", "schedule"],
  ])("%s shows at %s", (apiPath, field) => {
    expect(formFieldFor(apiPath)).toBe(field);
  });

  it("keeps errors that name no field as general messages", () => {
    const { fields, general } = mapApiErrors([
      { field: "schedule.timezone", message: "unknown time zone" },
      { field: "", message: "something else" },
      { field: "unknown_thing", message: "odd" },
    ]);
    expect(fields).toEqual({ "schedule.timezone": "unknown time zone" });
    expect(general).toEqual(["something else", "unknown_thing: odd"]);
  });
});
