// The task editor's form model: UI-friendly values, conversion to and from the API's TaskSpec,
// client-side validation, and the mapping of API error paths (e.g. "schedule.seconds") onto form fields.
import type { HttpMethod, JsonValue, Schedule, Task, TaskSpec } from "../api/types";
import { fromLocalInput, fromZonedInput, toLocalInput, toZonedInput } from "../lib/format";
import { DEFAULT_RULES, rulesToValues, validateRules, valuesToRules, type RulesValues } from "../notify/rules";

export interface KeyValue {
  key: string;
  value: string;
  /** A stored secret: the API shows it only as MASK and keeps it when MASK is sent back, until replaced. */
  kept?: boolean;
  /** Copied from another task without its secret value, which is never readable: it must be entered again. */
  retype?: boolean;
}

/** How the API shows a stored secret (header and environment values); sent back, it keeps the value. */
export const MASK = "********";

export type ScheduleKind = "none" | "once" | "interval" | "cron";
export type IntervalUnit = "seconds" | "minutes" | "hours" | "days";
export type BodyMode = "none" | "text" | "json";
export type NumberField = number | "";

export interface ActionValues {
  type: "http" | "shell" | "python";
  method: HttpMethod;
  url: string;
  headers: KeyValue[];
  bodyMode: BodyMode;
  body: string;
  expect_status: string;
  follow_redirects: boolean;
  /** One argument per line. */
  command: string;
  env: KeyValue[];
  cwd: string;
  function: string;
  /** JSON array text. */
  args: string;
  /** JSON object text. */
  kwargs: string;
}

export interface ScheduleValues {
  type: ScheduleKind;
  /** datetime-local value in the browser's zone */
  at: string;
  every: NumberField;
  unit: IntervalUnit;
  expression: string;
  timezone: string;
  /** datetime-local values on the wall clock of windowZone(): a cron schedule's zone, else the browser's */
  start_at: string;
  end_at: string;
  jitter_seconds: NumberField;
}

export interface TaskFormValues {
  name: string;
  description: string;
  tags: string[];
  enabled: boolean;
  action: ActionValues;
  schedule: ScheduleValues;
  timeout_seconds: NumberField;
  retry: {
    max_attempts: NumberField;
    backoff_seconds: NumberField;
    backoff_factor: NumberField;
    max_backoff_seconds: NumberField;
    jitter: NumberField;
  };
  concurrency_policy: TaskSpec["concurrency_policy"];
  misfire_policy: TaskSpec["misfire_policy"];
  misfire_grace_seconds: NumberField;
  priority: NumberField;
  queue: string;
  /** "global": the task follows the global notification rules; "own": the rules below. */
  notifyMode: "global" | "own";
  notify: RulesValues;
  /** The task's retention overrides (set through the API; the form keeps them as they are). */
  retention: TaskSpec["retention"];
}

export const UNIT_SECONDS: Record<IntervalUnit, number> = { seconds: 1, minutes: 60, hours: 3600, days: 86_400 };

export function emptyForm(timezone = "UTC"): TaskFormValues {
  return {
    name: "",
    description: "",
    tags: [],
    enabled: true,
    action: {
      type: "http",
      method: "GET",
      url: "",
      headers: [],
      bodyMode: "none",
      body: "",
      expect_status: "",
      follow_redirects: true,
      command: "",
      env: [],
      cwd: "",
      function: "",
      args: "[]",
      kwargs: "{}",
    },
    schedule: {
      type: "interval",
      at: "",
      every: 5,
      unit: "minutes",
      expression: "0 * * * *",
      timezone,
      start_at: "",
      end_at: "",
      jitter_seconds: 0,
    },
    timeout_seconds: 3600,
    retry: { max_attempts: 3, backoff_seconds: 10, backoff_factor: 2, max_backoff_seconds: 3600, jitter: 0.2 },
    concurrency_policy: "forbid",
    misfire_policy: "run_once",
    misfire_grace_seconds: 60,
    priority: 0,
    queue: "default",
    notifyMode: "global",
    notify: { ...DEFAULT_RULES },
    retention: null,
  };
}

// Header and environment values are write-only: the form shows a stored one as kept (an empty field with
// a "replace" button), never as the literal MASK a person could mistake for the value or save by accident.
function toSecretPairs(record: Record<string, string> | null | undefined): KeyValue[] {
  return Object.entries(record ?? {}).map(([key, value]) => (value === MASK ? { key, value: "", kept: true } : { key, value }));
}

function largestUnit(seconds: number): { every: number; unit: IntervalUnit } {
  for (const unit of ["days", "hours", "minutes"] as const) {
    if (seconds >= UNIT_SECONDS[unit] && seconds % UNIT_SECONDS[unit] === 0) return { every: seconds / UNIT_SECONDS[unit], unit };
  }
  return { every: seconds, unit: "seconds" };
}

/** The form values that show an existing task. */
export function formFromTask(task: Task, defaultTimezone = "UTC"): TaskFormValues {
  const values = emptyForm(defaultTimezone);
  values.name = task.name;
  values.description = task.description ?? "";
  values.tags = [...(task.tags ?? [])];
  values.enabled = task.enabled;
  const action = task.action;
  values.action.type = action.type;
  if (action.type === "http") {
    values.action.method = action.method;
    values.action.url = action.url;
    values.action.headers = toSecretPairs(action.headers);
    if (action.body === null || action.body === undefined) values.action.bodyMode = "none";
    else if (typeof action.body === "string") {
      values.action.bodyMode = "text";
      values.action.body = action.body;
    } else {
      values.action.bodyMode = "json";
      values.action.body = JSON.stringify(action.body, null, 2);
    }
    values.action.expect_status = (action.expect_status ?? []).join(", ");
    values.action.follow_redirects = action.follow_redirects;
  } else if (action.type === "shell") {
    values.action.command = action.command.join("\n");
    values.action.env = toSecretPairs(action.env);
    values.action.cwd = action.cwd ?? "";
  } else {
    values.action.function = action.function;
    values.action.args = JSON.stringify(action.args ?? []);
    values.action.kwargs = JSON.stringify(action.kwargs ?? {});
  }
  const schedule = task.schedule;
  if (!schedule) values.schedule.type = "none";
  else {
    values.schedule.type = schedule.type;
    if (schedule.type === "once") values.schedule.at = toLocalInput(schedule.at);
    else {
      const zone = schedule.type === "cron" ? schedule.timezone : undefined;
      values.schedule.start_at = toZonedInput(schedule.start_at, zone);
      values.schedule.end_at = toZonedInput(schedule.end_at, zone);
      values.schedule.jitter_seconds = schedule.jitter_seconds ?? 0;
      if (schedule.type === "interval") Object.assign(values.schedule, largestUnit(schedule.seconds));
      else {
        values.schedule.expression = schedule.expression;
        values.schedule.timezone = schedule.timezone;
      }
    }
  }
  values.timeout_seconds = task.timeout_seconds ?? "";
  values.retry = { ...values.retry, ...task.retry };
  values.concurrency_policy = task.concurrency_policy;
  values.misfire_policy = task.misfire_policy;
  values.misfire_grace_seconds = task.misfire_grace_seconds;
  values.priority = task.priority;
  values.queue = task.queue;
  values.notifyMode = task.notify ? "own" : "global";
  values.notify = rulesToValues(task.notify);
  values.retention = task.retention ?? null;
  return values;
}

/**
 * The form for a new task copied from `task`: every field as it is, named "… (copy)", with each secret
 * value to enter again (the API never reveals them, and a copy cannot point at another task's secret).
 */
export function duplicateForm(task: Task, defaultTimezone = "UTC"): TaskFormValues {
  const values = formFromTask(task, defaultTimezone);
  values.name = `${task.name} (copy)`.slice(0, 200);
  const retype = (pairs: KeyValue[]) => pairs.map((pair) => (pair.kept ? { key: pair.key, value: "", retype: true } : pair));
  values.action.headers = retype(values.action.headers);
  values.action.env = retype(values.action.env);
  return values;
}

/** The spec a saved task stands for, normalised as the form would send it (for comparing versions). */
export function specFromTask(task: Task, defaultTimezone = "UTC"): TaskSpec {
  return specFromValues(formFromTask(task, defaultTimezone));
}

function parseJson(text: string): { ok: true; value: JsonValue } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) as JsonValue };
  } catch (error) {
    return { ok: false, message: `Not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function parseStatuses(text: string): number[] | string {
  const parts = text
    .split(/[\s,]+/)
    .map((part) => part.trim())
    .filter(Boolean);
  const codes: number[] = [];
  for (const part of parts) {
    const code = Number(part);
    if (!Number.isInteger(code) || code < 100 || code > 599) return `“${part}” is not an HTTP status code (100–599).`;
    codes.push(code);
  }
  return codes;
}

function commandArgs(text: string): string[] {
  return text.split("\n").map((line) => line.replace(/\r$/, "")).filter((line) => line.trim() !== "");
}

type Errors = Record<string, string>;

function checkNumber(errors: Errors, path: string, value: NumberField, min: number, max: number, options: { integer?: boolean; required?: boolean; exclusiveMin?: boolean } = {}) {
  const { integer = false, required = true, exclusiveMin = false } = options;
  if (value === "" || value === null || value === undefined) {
    if (required) errors[path] = "Required.";
    return;
  }
  if (typeof value !== "number" || Number.isNaN(value)) errors[path] = "Enter a number.";
  else if (integer && !Number.isInteger(value)) errors[path] = "Enter a whole number.";
  else if (exclusiveMin ? value <= min : value < min) errors[path] = exclusiveMin ? `Must be more than ${min}.` : `Must be at least ${min}.`;
  else if (value > max) errors[path] = `Must be at most ${max}.`;
}

// Rows become an object in the request, so a row without a name or a repeated name would vanish
// silently before the server could say anything: those are checked here. Whether a name is a valid
// header or variable name is the server's to say (its 422 shows beside the row).
function checkPairs(errors: Errors, path: string, pairs: KeyValue[]) {
  const seen = new Set<string>();
  pairs.forEach((pair, index) => {
    const name = pair.key.trim();
    if (!name) errors[`${path}.${index}.key`] = "Name required.";
    else if (seen.has(name.toLowerCase())) errors[`${path}.${index}.key`] = "Duplicate name.";
    seen.add(name.toLowerCase());
    if (pair.retype && !pair.kept && pair.value === "") errors[`${path}.${index}.value`] = "Secret values are not copied: enter this one again.";
  });
}

/** The zone whose wall clock a schedule's start and end are entered in: a cron schedule's own zone
 * (its fields are read there too), else the browser's (undefined). */
export function windowZone(schedule: Pick<ScheduleValues, "type" | "timezone">): string | undefined {
  return schedule.type === "cron" && schedule.timezone ? schedule.timezone : undefined;
}

/** Errors in the schedule part only (the preview runs when this is empty). */
export function validateSchedule(schedule: ScheduleValues): Errors {
  const errors: Errors = {};
  if (schedule.type === "once") {
    if (!schedule.at) errors["schedule.at"] = "Pick a date and time.";
    else if (!fromLocalInput(schedule.at)) errors["schedule.at"] = "Not a valid date and time.";
  }
  if (schedule.type === "interval") {
    checkNumber(errors, "schedule.every", schedule.every, 1, 366 * 86_400, { integer: true });
    if (!errors["schedule.every"] && typeof schedule.every === "number" && schedule.every * UNIT_SECONDS[schedule.unit] > 366 * 86_400) {
      errors["schedule.every"] = "At most 366 days.";
    }
  }
  if (schedule.type === "cron") {
    const fields = schedule.expression.trim();
    if (!fields) errors["schedule.expression"] = "Enter a cron expression, e.g. */15 * * * *.";
    else if (!fields.startsWith("@")) {
      const count = fields.split(/\s+/).length;
      if (count < 5 || count > 6) errors["schedule.expression"] = `A cron expression has 5 fields (or 6 with seconds); this has ${count}.`;
    }
    if (!schedule.timezone) errors["schedule.timezone"] = "Pick a time zone.";
  }
  if (schedule.type === "interval" || schedule.type === "cron") {
    checkNumber(errors, "schedule.jitter_seconds", schedule.jitter_seconds, 0, 86_400, { required: false });
    const start = fromZonedInput(schedule.start_at, windowZone(schedule));
    const end = fromZonedInput(schedule.end_at, windowZone(schedule));
    if (start && end && end <= start) errors["schedule.end_at"] = "Must be after the start.";
  }
  return errors;
}

/**
 * Checks made before saving: what the request cannot be built without (required values, numbers,
 * JSON, status codes, header / variable rows) and number ranges. Patterns (tag, queue, header,
 * variable and function names) are the server's alone: the OpenAPI document publishes none to derive
 * a copy from, and the server's 422 is shown beside the field it names.
 */
export function validateTask(values: TaskFormValues): Errors {
  const errors: Errors = {};
  const name = values.name;
  if (!name.trim()) errors.name = "Give the task a name.";
  else if (name !== name.trim()) errors.name = "No spaces at the start or end.";
  else if (name.length > 200) errors.name = "At most 200 characters.";

  const action = values.action;
  if (action.type === "http") {
    const url = action.url.trim();
    if (!url) errors["action.url"] = "Enter the URL to call.";
    else {
      try {
        const parsed = new URL(url);
        if (parsed.protocol !== "http:" && parsed.protocol !== "https:") errors["action.url"] = "Must be an http:// or https:// URL.";
      } catch {
        errors["action.url"] = "Must be an absolute URL such as https://example.com/hook.";
      }
    }
    checkPairs(errors, "action.headers", action.headers);
    if (action.bodyMode === "json") {
      const parsed = parseJson(action.body);
      if (!parsed.ok) errors["action.body"] = parsed.message;
    }
    const statuses = parseStatuses(action.expect_status);
    if (typeof statuses === "string") errors["action.expect_status"] = statuses;
  } else if (action.type === "shell") {
    if (!commandArgs(action.command).length) errors["action.command"] = "Enter the program and its arguments, one per line.";
    checkPairs(errors, "action.env", action.env);
  } else {
    if (!action.function.trim()) errors["action.function"] = "Enter the name the function was registered under.";
    const args = parseJson(action.args || "[]");
    if (!args.ok) errors["action.args"] = args.message;
    else if (!Array.isArray(args.value)) errors["action.args"] = "Must be a JSON array, e.g. [1, \"a\"].";
    const kwargs = parseJson(action.kwargs || "{}");
    if (!kwargs.ok) errors["action.kwargs"] = kwargs.message;
    else if (kwargs.value === null || typeof kwargs.value !== "object" || Array.isArray(kwargs.value)) {
      errors["action.kwargs"] = "Must be a JSON object, e.g. {\"day\": 1}.";
    }
  }

  Object.assign(errors, validateSchedule(values.schedule));

  checkNumber(errors, "timeout_seconds", values.timeout_seconds, 0, 7 * 86_400, { required: false, exclusiveMin: true });
  checkNumber(errors, "retry.max_attempts", values.retry.max_attempts, 1, 100, { integer: true });
  checkNumber(errors, "retry.backoff_seconds", values.retry.backoff_seconds, 0, 86_400);
  checkNumber(errors, "retry.backoff_factor", values.retry.backoff_factor, 1, 100);
  checkNumber(errors, "retry.max_backoff_seconds", values.retry.max_backoff_seconds, 0, 7 * 86_400);
  checkNumber(errors, "retry.jitter", values.retry.jitter, 0, 1);
  checkNumber(errors, "misfire_grace_seconds", values.misfire_grace_seconds, 0, 7 * 86_400);
  checkNumber(errors, "priority", values.priority, -1000, 1000, { integer: true });
  if (!values.queue.trim()) errors.queue = "Required.";
  if (values.notifyMode === "own") Object.assign(errors, validateRules(values.notify, "notify."));
  return errors;
}

/** The API schedule the form describes, or null for "manual only" (or when it is incomplete). */
export function scheduleFromValues(schedule: ScheduleValues): Schedule | null {
  if (schedule.type === "none") return null;
  if (schedule.type === "once") {
    const at = fromLocalInput(schedule.at);
    return at ? { type: "once", at } : null;
  }
  const window = {
    start_at: fromZonedInput(schedule.start_at, windowZone(schedule)),
    end_at: fromZonedInput(schedule.end_at, windowZone(schedule)),
    jitter_seconds: schedule.jitter_seconds === "" ? 0 : schedule.jitter_seconds,
  };
  if (schedule.type === "interval") {
    if (schedule.every === "") return null;
    return { type: "interval", seconds: Math.round(schedule.every * UNIT_SECONDS[schedule.unit]), ...window };
  }
  return { type: "cron", expression: schedule.expression.trim(), timezone: schedule.timezone, ...window };
}

function toRecord(pairs: KeyValue[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (const pair of pairs) if (pair.key.trim()) record[pair.key.trim()] = pair.kept ? MASK : pair.value;
  return record;
}

function num(value: NumberField, fallback: number): number {
  return value === "" ? fallback : value;
}

/** The request body for POST / PUT. Call after validateTask passed. */
export function specFromValues(values: TaskFormValues): TaskSpec {
  const a = values.action;
  let action: TaskSpec["action"];
  if (a.type === "http") {
    const statuses = parseStatuses(a.expect_status);
    let body: JsonValue = null;
    if (a.bodyMode === "text") body = a.body;
    if (a.bodyMode === "json") body = JSON.parse(a.body) as JsonValue;
    action = {
      type: "http",
      method: a.method,
      url: a.url.trim(),
      headers: toRecord(a.headers),
      body,
      expect_status: Array.isArray(statuses) && statuses.length ? statuses : null,
      follow_redirects: a.follow_redirects,
    };
  } else if (a.type === "shell") {
    action = { type: "shell", command: commandArgs(a.command), env: toRecord(a.env), cwd: a.cwd.trim() || null };
  } else {
    action = {
      type: "python",
      function: a.function.trim(),
      args: JSON.parse(a.args || "[]") as JsonValue[],
      kwargs: JSON.parse(a.kwargs || "{}") as Record<string, JsonValue>,
    };
  }
  return {
    name: values.name,
    description: values.description,
    tags: values.tags,
    enabled: values.enabled,
    action,
    schedule: scheduleFromValues(values.schedule),
    timeout_seconds: values.timeout_seconds === "" ? null : values.timeout_seconds,
    retry: {
      max_attempts: num(values.retry.max_attempts, 1),
      backoff_seconds: num(values.retry.backoff_seconds, 10),
      backoff_factor: num(values.retry.backoff_factor, 2),
      max_backoff_seconds: num(values.retry.max_backoff_seconds, 3600),
      jitter: num(values.retry.jitter, 0),
    },
    concurrency_policy: values.concurrency_policy,
    misfire_policy: values.misfire_policy,
    misfire_grace_seconds: num(values.misfire_grace_seconds, 60),
    priority: num(values.priority, 0),
    queue: values.queue.trim(),
    notify: values.notifyMode === "own" ? valuesToRules(values.notify) : null,
    // A PUT replaces the task: what the form does not edit is sent back as it was.
    retention: values.retention ?? null,
  };
}

/** Form fields that can show an error, by their form path. */
export const FORM_FIELDS = new Set<string>([
  "name",
  "description",
  "tags",
  "enabled",
  "action.type",
  "action.method",
  "action.url",
  "action.headers",
  "action.body",
  "action.expect_status",
  "action.follow_redirects",
  "action.command",
  "action.env",
  "action.cwd",
  "action.function",
  "action.args",
  "action.kwargs",
  "schedule",
  "schedule.type",
  "schedule.at",
  "schedule.every",
  "schedule.expression",
  "schedule.timezone",
  "schedule.start_at",
  "schedule.end_at",
  "schedule.jitter_seconds",
  "timeout_seconds",
  "retry.max_attempts",
  "retry.backoff_seconds",
  "retry.backoff_factor",
  "retry.max_backoff_seconds",
  "retry.jitter",
  "concurrency_policy",
  "misfire_policy",
  "misfire_grace_seconds",
  "priority",
  "queue",
  "notify.consecutive_failures",
  "notify.late_start_seconds",
  "notify.long_running_seconds",
  "notify.no_success_hours",
]);

const ALIASES: Record<string, string> = { "schedule.seconds": "schedule.every" };
const VARIANT_TAGS = new Set(["http", "shell", "python", "once", "interval", "cron"]);

/**
 * The form field an API error path belongs to: "schedule.expression" → itself, "schedule.seconds" →
 * "schedule.every", "action.command.2" → "action.command", "schedule.cron.expression" (pydantic's union
 * tag) → "schedule.expression". Null when nothing on the form matches (shown as a general error).
 */
export function formFieldFor(apiPath: string): string | null {
  let parts = apiPath.split(".").filter((part) => part !== "" && part !== "body");
  if (parts.length >= 2 && (parts[0] === "action" || parts[0] === "schedule") && VARIANT_TAGS.has(parts[1] as string)) {
    parts = [parts[0] as string, ...parts.slice(2)];
  }
  while (parts.length) {
    const path = parts.join(".");
    const mapped = ALIASES[path] ?? path;
    if (FORM_FIELDS.has(mapped)) return mapped;
    parts = parts.slice(0, -1);
  }
  return null;
}

/** Split API field errors into per-field messages and the rest. */
export function mapApiErrors(errors: { field: string; message: string }[]): { fields: Errors; general: string[] } {
  const fields: Errors = {};
  const general: string[] = [];
  for (const error of errors) {
    const field = error.field ? formFieldFor(error.field) : null;
    if (field) fields[field] = fields[field] ? `${fields[field]} ${error.message}` : error.message;
    else general.push(error.field ? `${error.field}: ${error.message}` : error.message);
  }
  return { fields, general };
}
