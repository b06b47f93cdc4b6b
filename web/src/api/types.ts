// API shapes: aliases of the types generated from the back end's OpenAPI schema (schema.d.ts, made by
// `npm run gen:api`), so front end and back end cannot drift. Nothing here restates a server type.
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
/** A task as lists show it: with its latest runs, success rate and last duration. */
export type TaskListItem = Schemas["TaskListItem"];
export type RecentRun = Schemas["RecentRun"];
export type LastRun = Schemas["LastRun"];
export type Run = Schemas["Run"];
export type FireTime = Schemas["FireTime"];
export type SchedulePreview = Schemas["SchedulePreview"];
export type PreviewRequest = Schemas["PreviewRequest"];
export type Upcoming = Schemas["Upcoming"];
export type UpcomingRun = Schemas["UpcomingRun"];
export type Worker = Schemas["WorkerOut"];
export type ApiKey = Schemas["KeyOut"];
export type CreatedApiKey = Schemas["KeyCreated"];
export type TaskPage = Schemas["TaskPage"];
export type TagCount = Schemas["TagCount"];
export type TaskBulkRequest = Schemas["TaskBulkRequest"];
export type TaskBulkResult = Schemas["TaskBulkResult"];
export type RunPage = Schemas["RunPage"];
export type AuditEntry = Schemas["AuditEntry"];
export type AuditPage = Schemas["AuditPage"];
/** The query parameters GET /api/audit accepts, from the schema. */
export type AuditListQuery = NonNullable<operations["audit_list"]["parameters"]["query"]>;

/** The query parameters GET /api/tasks accepts, from the schema. */
export type TaskListQuery = NonNullable<operations["tasks_list"]["parameters"]["query"]>;
export type TaskSort = NonNullable<TaskListQuery["sort"]>;

export type Stats = Schemas["Stats"];
export type Status = Schemas["Status"];
export type Throughput = Schemas["Throughput"];
export type TaskCounts = Schemas["TaskCounts"];
export type NextDue = Schemas["DueTask"];
export type HourBucket = Schemas["HourBucket"];
/** The statuses an hour's bucket counts (finished runs). */
export type BucketStatus = Exclude<keyof HourBucket, "hour">;
/** Runs by status, as the dashboard's counts give them. */
export type StatusCounts = Stats["runs_last_hour"];
export type StatsBucket = NonNullable<operations["stats_get"]["parameters"]["query"]>["bucket"] & string;
export type RunsChartData = Schemas["RunsChart"];
export type ChartBucket = Schemas["ChartBucket"];
export type FailingTask = Schemas["FailingTask"];
export type LateSlots = Schemas["LateSlots"];
export type RunSpans = Schemas["RunSpans"];

export const RUN_STATUSES: RunStatus[] = ["queued", "running", "succeeded", "failed", "timed_out", "cancelled", "skipped"];
export const ACTIVE_STATUSES: RunStatus[] = ["queued", "running"];

export type NotifyRules = Schemas["NotifyRules"];
export type NotifyDefaults = Schemas["NotifyDefaults"];
export type Channel = Schemas["Channel"];
export type ChannelSpec = Schemas["ChannelSpec"];
export type ChannelScope = Schemas["ChannelScope"];
export type WebhookChannel = Schemas["WebhookChannel"];
export type JsonChannel = Schemas["JsonChannel"];
export type EmailChannel = Schemas["EmailChannel"];
export type ChannelConfig = WebhookChannel | JsonChannel | EmailChannel;
export type ChannelTestResult = Schemas["ChannelTestResult"];
export type Notice = Schemas["Notice"];
export type NoticeStatus = Schemas["NoticeStatus"];
export type NoticeKind = Schemas["NoticeKind"];
