// API shapes: aliases of the types generated from the back end's OpenAPI schema (schema.d.ts, made by
// `npm run gen:api`), so front end and back end cannot drift. Only /api/stats has no schema in the
// OpenAPI document (it answers a free-form object), so its shape is written here from the contract.
import type { components, operations } from "./schema";

type Schemas = components["schemas"];

export type Role = Schemas["Role"];
export type Me = Schemas["Me"];
export type RunStatus = Schemas["RunStatus"];
export type RunTrigger = Schemas["RunTrigger"];
export type HttpAction = Schemas["HttpAction"];
export type HttpMethod = HttpAction["method"];
export type ShellAction = Schemas["ShellAction"];
export type PythonAction = Schemas["PythonAction"];
export type Action = HttpAction | ShellAction | PythonAction;
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type OnceSchedule = Schemas["OnceSchedule"];
export type IntervalSchedule = Schemas["IntervalSchedule"];
export type CronSchedule = Schemas["CronSchedule"];
export type Schedule = OnceSchedule | IntervalSchedule | CronSchedule;
export type RetryPolicy = Schemas["RetryPolicy"];
export type ConcurrencyPolicy = Schemas["ConcurrencyPolicy"];
export type MisfirePolicy = Schemas["MisfirePolicy"];
export type TaskSpec = Schemas["TaskSpec"];
export type Task = Schemas["TaskView"];
export type LastRun = Schemas["LastRun"];
export type Run = Schemas["Run"];
export type FireTime = Schemas["FireTime"];
export type SchedulePreview = Schemas["SchedulePreview"];
export type PreviewRequest = Schemas["PreviewRequest"];
export type Worker = Schemas["WorkerOut"];
export type ApiKey = Schemas["KeyOut"];
export type CreatedApiKey = Schemas["KeyCreated"];
export type TaskPage = Schemas["TaskPage"];
export type RunPage = Schemas["RunPage"];

export interface Page<T> {
  items: T[];
  total: number;
}

/** The query parameters GET /api/tasks accepts, from the schema. */
export type TaskListQuery = NonNullable<operations["tasks_list"]["parameters"]["query"]>;
export type TaskSort = NonNullable<TaskListQuery["sort"]>;

export interface NextDue {
  task_id: number;
  task_name: string;
  next_run_at: string;
}

export type StatusCounts = Partial<Record<RunStatus, number>>;

export interface HourBucket extends StatusCounts {
  hour: string;
}

export interface Stats {
  tasks: { total: number; enabled: number; paused: number };
  runs_last_hour: StatusCounts;
  runs_last_day: StatusCounts;
  runs_per_hour: HourBucket[];
  success_rate_last_day: number | null;
  queued: number;
  running: number;
  oldest_queued_at: string | null;
  workers_online: number;
  next_due: NextDue[];
  latest_failures: Run[];
}

export const RUN_STATUSES: RunStatus[] = ["queued", "running", "succeeded", "failed", "timed_out", "cancelled", "skipped"];
export const ACTIVE_STATUSES: RunStatus[] = ["queued", "running"];
