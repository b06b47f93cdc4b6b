// API shapes. Until the back end's OpenAPI schema is available these follow the written contract;
// once schema.d.ts is generated they are aliases of the generated types.
export type Role = "admin" | "operator" | "viewer";

export interface Me {
  name: string;
  role: Role;
  prefix: string;
}

export type RunStatus = "queued" | "running" | "succeeded" | "failed" | "timed_out" | "cancelled" | "skipped";
export type RunTrigger = "schedule" | "manual" | "retry";
export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS";
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface HttpAction {
  type: "http";
  method: HttpMethod;
  url: string;
  headers: Record<string, string>;
  body: JsonValue;
  expect_status: number[] | null;
  follow_redirects: boolean;
}

export interface ShellAction {
  type: "shell";
  command: string[];
  env: Record<string, string>;
  cwd: string | null;
}

export interface PythonAction {
  type: "python";
  function: string;
  args: JsonValue[];
  kwargs: Record<string, JsonValue>;
}

export type Action = HttpAction | ShellAction | PythonAction;

export interface OnceSchedule {
  type: "once";
  at: string;
}

interface Window {
  start_at: string | null;
  end_at: string | null;
  jitter_seconds: number;
}

export interface IntervalSchedule extends Window {
  type: "interval";
  seconds: number;
}

export interface CronSchedule extends Window {
  type: "cron";
  expression: string;
  timezone: string;
}

export type Schedule = OnceSchedule | IntervalSchedule | CronSchedule;

export interface RetryPolicy {
  max_attempts: number;
  backoff_seconds: number;
  backoff_factor: number;
  max_backoff_seconds: number;
  jitter: number;
}

export type ConcurrencyPolicy = "allow" | "forbid" | "replace";
export type MisfirePolicy = "run_once" | "skip" | "run_all";

export interface TaskSpec {
  name: string;
  description: string;
  tags: string[];
  enabled: boolean;
  action: Action;
  schedule: Schedule | null;
  timeout_seconds: number | null;
  retry: RetryPolicy;
  concurrency_policy: ConcurrencyPolicy;
  misfire_policy: MisfirePolicy;
  misfire_grace_seconds: number;
  priority: number;
  queue: string;
}

export interface LastRun {
  id: number;
  status: RunStatus;
  at: string;
}

export interface Task extends TaskSpec {
  id: number;
  next_run_at: string | null;
  last_run: LastRun | null;
  schedule_description?: string | null;
  created_at: string;
  updated_at: string;
  version: number;
}

export interface Run {
  id: number;
  task_id: number;
  task_name: string;
  trigger: RunTrigger;
  scheduled_for: string;
  attempt: number;
  status: RunStatus;
  reason: string | null;
  queue: string;
  priority: number;
  queued_at: string;
  available_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  worker: string | null;
  exit_code: number | null;
  http_status: number | null;
  output: string | null;
  error: string | null;
  cancel_requested: boolean;
}

export interface Page<T> {
  items: T[];
  total: number;
}

export interface FireTime {
  utc: string;
  local: string;
}

export interface SchedulePreview {
  description: string;
  timezone: string;
  fire_times: FireTime[];
  dst_notes: string[];
}

export interface Worker {
  name: string;
  hostname: string;
  pid: number;
  queues: string[];
  concurrency: number;
  running: number;
  started_at: string;
  heartbeat_at: string;
  online: boolean;
}

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

export interface ApiKey {
  id: number;
  name: string;
  prefix: string;
  role: Role;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface CreatedApiKey extends ApiKey {
  key: string;
}

export const RUN_STATUSES: RunStatus[] = ["queued", "running", "succeeded", "failed", "timed_out", "cancelled", "skipped"];
export const ACTIVE_STATUSES: RunStatus[] = ["queued", "running"];
