// Server state: one hook per resource. Live updates come from events.ts, which invalidates these keys.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { call, compact, http } from "./client";
import type {
  AuditListQuery,
  ChannelSpec,
  ChannelTestResult,
  CreatedApiKey,
  Me,
  NoticeStatus,
  NotifyDefaults,
  Role,
  Run,
  RunStatus,
  Schedule,
  SchedulePreview,
  Task,
  TaskBulkRequest,
  TaskSort,
  TaskSpec,
} from "./types";

export type { TaskSort };

export const keys = {
  me: ["me"] as const,
  tasks: ["tasks"] as const,
  taskList: (params: TaskListParams) => ["tasks", "list", params] as const,
  task: (id: number) => ["task", id] as const,
  taskPreview: (id: number) => ["task", id, "preview"] as const,
  upcoming: (params: UpcomingParams) => ["upcoming", params] as const,
  runs: ["runs"] as const,
  runList: (params: RunListParams) => ["runs", "list", params] as const,
  run: (id: number) => ["run", id] as const,
  stats: ["stats"] as const,
  status: ["status"] as const,
  workers: ["workers"] as const,
  apiKeys: ["apiKeys"] as const,
  audit: (params: AuditListQuery) => ["audit", params] as const,
  channels: ["channels"] as const,
  notifyRules: ["notifyRules"] as const,
  notices: ["notices"] as const,
  noticeList: (params: NoticeListParams) => ["notices", "list", params] as const,
};

export interface NoticeListParams {
  task_id?: number;
  run_id?: number;
  status?: NoticeStatus;
  limit: number;
  offset: number;
}

export interface TaskListParams {
  limit: number;
  offset: number;
  q?: string;
  /** Tasks carrying every one of these tags (sent as `tag=a&tag=b`). */
  tags?: string[];
  enabled?: "true" | "false";
  last_status?: RunStatus;
  sort?: TaskSort;
}

/** What /tasks shows without filters (the prefetch in index.html asks for the same). */
export const DEFAULT_TASK_LIST: TaskListParams = { limit: 50, offset: 0, sort: "name" };

export interface UpcomingParams {
  /** ISO UTC times: the window [from, to), at most 8 days */
  from: string;
  to: string;
  limit: number;
  tag?: string;
}

export interface RunListParams {
  limit: number;
  offset: number;
  task_id?: number;
  status?: RunStatus;
}

export function fetchMe(signal?: AbortSignal): Promise<Me> {
  return call(http.GET("/api/auth/me", { signal }));
}

export function useMe(enabled: boolean) {
  return useQuery({ queryKey: keys.me, queryFn: ({ signal }) => fetchMe(signal), enabled, staleTime: 60_000 });
}

export function fetchTaskList(params: TaskListParams, signal?: AbortSignal) {
  const { enabled, tags, ...rest } = params;
  const query = compact({ ...rest, tag: tags?.length ? tags : undefined, enabled: enabled === undefined ? undefined : enabled === "true" });
  return call(http.GET("/api/tasks", { params: { query }, signal }));
}

/** Tags in use starting with `prefix` (any case), most used first, with how many tasks carry each. */
export function useTagSuggestions(prefix: string, limit = 20) {
  return useQuery({
    queryKey: ["tags", prefix, limit] as const,
    queryFn: ({ signal }) => call(http.GET("/api/tags", { params: { query: compact({ q: prefix, limit }) }, signal })),
    placeholderData: keepPreviousData,
    staleTime: 30_000,
  });
}

/** One request for many tasks: those named, or every task the list's filter matches (server-side). */
export function performBulkAction(body: TaskBulkRequest) {
  return call(http.POST("/api/tasks:bulk", { body }));
}

export function useTaskList(params: TaskListParams) {
  return useQuery({
    queryKey: keys.taskList(params),
    queryFn: ({ signal }) => fetchTaskList(params, signal),
    placeholderData: keepPreviousData,
  });
}

export function fetchTask(id: number, signal?: AbortSignal): Promise<Task> {
  return call(http.GET("/api/tasks/{task_id}", { params: { path: { task_id: id } }, signal }));
}

export function useTask(id: number) {
  return useQuery({ queryKey: keys.task(id), queryFn: ({ signal }) => fetchTask(id, signal) });
}

export function fetchRunList(params: RunListParams, signal?: AbortSignal) {
  const { task_id, status, ...rest } = params;
  const query = compact({ ...rest, status: status === undefined ? undefined : [status] });
  if (task_id !== undefined) return call(http.GET("/api/tasks/{task_id}/runs", { params: { path: { task_id }, query }, signal }));
  return call(http.GET("/api/runs", { params: { query }, signal }));
}

export function useRunList(params: RunListParams) {
  return useQuery({
    queryKey: keys.runList(params),
    queryFn: ({ signal }) => fetchRunList(params, signal),
    placeholderData: keepPreviousData,
  });
}

export function useRun(id: number, live: boolean) {
  return useQuery({
    queryKey: keys.run(id),
    queryFn: ({ signal }) => call(http.GET("/api/runs/{run_id}", { params: { path: { run_id: id } }, signal })),
    // Events drive updates; while the run is active a slow poll is a safety net for missed events.
    refetchInterval: (query) => {
      const status = query.state.data?.status;
      return live && (status === "running" || status === "queued") ? 2_000 : false;
    },
  });
}

export function fetchStats(bucket: "minute" | "hour", signal?: AbortSignal) {
  return call(http.GET("/api/stats", { params: { query: { bucket } }, signal }));
}

export function useStats(bucket: "minute" | "hour" = "hour") {
  return useQuery({
    queryKey: [...keys.stats, bucket],
    queryFn: ({ signal }) => fetchStats(bucket, signal),
    placeholderData: keepPreviousData,
    refetchInterval: bucket === "minute" ? 15_000 : 30_000,
  });
}

export function useStatus() {
  return useQuery({
    queryKey: keys.status,
    queryFn: ({ signal }) => call(http.GET("/api/status", { signal })),
    // Events refresh it as runs change; heartbeats, ticks and ages are not events: a poll keeps them true.
    refetchInterval: 10_000,
  });
}

export function useWorkers() {
  return useQuery({
    queryKey: keys.workers,
    queryFn: ({ signal }) => call(http.GET("/api/workers", { signal })),
    // Heartbeats are not events; a poll keeps "last heartbeat" honest.
    refetchInterval: 10_000,
  });
}

export function useApiKeys(enabled: boolean) {
  return useQuery({
    queryKey: keys.apiKeys,
    queryFn: ({ signal }) => call(http.GET("/api/keys", { signal })),
    enabled,
  });
}

/** A page of the audit log (admins only); ``before`` is the previous page's ``next_before``. */
export function useAuditList(params: AuditListQuery, enabled: boolean) {
  return useQuery({
    queryKey: keys.audit(params),
    queryFn: ({ signal }) => call(http.GET("/api/audit", { params: { query: compact({ ...params }) }, signal })),
    enabled,
    placeholderData: keepPreviousData,
  });
}

export function previewSchedule(schedule: Schedule, signal?: AbortSignal): Promise<SchedulePreview> {
  return call(http.POST("/api/schedules/preview", { body: { schedule, count: 10 }, signal }));
}

/** A saved task's next fire times (from its next slot), its schedule in words, the year's DST notes.
 * Under ["task", id]: task events refresh it with the task. */
export function useTaskPreview(id: number, enabled: boolean) {
  return useQuery({
    queryKey: keys.taskPreview(id),
    queryFn: ({ signal }) => call(http.GET("/api/tasks/{task_id}/preview", { params: { path: { task_id: id }, query: { count: 10 } }, signal })),
    enabled,
  });
}

/** What every enabled task fires in a window. Not under ["tasks"]: every run event would ask again
 * (a window with 10,000 tasks costs a merge); it is fetched on each visit and every minute instead. */
export function useUpcoming(params: UpcomingParams) {
  return useQuery({
    queryKey: keys.upcoming(params),
    queryFn: ({ signal }) => call(http.GET("/api/schedules/upcoming", { params: { query: compact({ ...params }) }, signal })),
    placeholderData: keepPreviousData,
    // Slots pass as time does; a slow poll moves the view on without events.
    refetchInterval: 60_000,
  });
}

/** Invalidate everything a task change can show up in. */
function useInvalidateTasks() {
  const client = useQueryClient();
  return (taskId?: number) => {
    void client.invalidateQueries({ queryKey: keys.tasks });
    void client.invalidateQueries({ queryKey: keys.stats });
    if (taskId !== undefined) void client.invalidateQueries({ queryKey: keys.task(taskId) });
  };
}

export type TaskAction = "run" | "pause" | "resume" | "delete";

export function performTaskAction(id: number, action: TaskAction): Promise<unknown> {
  const params = { path: { task_id: id } };
  if (action === "delete") return call(http.DELETE("/api/tasks/{task_id}", { params }));
  if (action === "run") return call(http.POST("/api/tasks/{task_id}/run", { params }));
  if (action === "pause") return call(http.POST("/api/tasks/{task_id}/pause", { params }));
  return call(http.POST("/api/tasks/{task_id}/resume", { params }));
}

export function useTaskAction() {
  const invalidate = useInvalidateTasks();
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, action }: { id: number; action: TaskAction }) => performTaskAction(id, action),
    onSuccess: (_data, { id, action }) => {
      invalidate(id);
      if (action === "run") void client.invalidateQueries({ queryKey: keys.runs });
      if (action === "delete") client.removeQueries({ queryKey: keys.task(id) });
    },
  });
}

export function useSaveTask() {
  const invalidate = useInvalidateTasks();
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, spec, version }: { id?: number; spec: TaskSpec; version?: number }): Promise<Task> =>
      id === undefined
        ? call(http.POST("/api/tasks", { body: spec }))
        : call(
            http.PUT("/api/tasks/{task_id}", {
              params: { path: { task_id: id }, header: version !== undefined ? { "if-match": `"${version}"` } : {} },
              body: spec,
            }),
          ),
    onSuccess: (task) => {
      client.setQueryData(keys.task(task.id), task);
      invalidate(task.id);
    },
  });
}

export function useCancelRun() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: number): Promise<Run> => call(http.POST("/api/runs/{run_id}/cancel", { params: { path: { run_id: id } } })),
    onSuccess: (run) => {
      client.setQueryData(keys.run(run.id), (old: Run | undefined) => ({ ...old, ...run, output: run.output ?? old?.output ?? null }));
      void client.invalidateQueries({ queryKey: keys.runs });
    },
  });
}

export function useCreateApiKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: { name: string; role: Role }): Promise<CreatedApiKey> => call(http.POST("/api/keys", { body })),
    onSuccess: () => void client.invalidateQueries({ queryKey: keys.apiKeys }),
  });
}

export function useRevokeApiKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => call(http.DELETE("/api/keys/{key_id}", { params: { path: { key_id: id } } })),
    onSuccess: () => void client.invalidateQueries({ queryKey: keys.apiKeys }),
  });
}

export function useChannels() {
  return useQuery({ queryKey: keys.channels, queryFn: ({ signal }) => call(http.GET("/api/channels", { signal })) });
}

export function useSaveChannel() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, spec }: { id?: number; spec: ChannelSpec }) =>
      id === undefined
        ? call(http.POST("/api/channels", { body: spec }))
        : call(http.PUT("/api/channels/{channel_id}", { params: { path: { channel_id: id } }, body: spec })),
    onSuccess: () => void client.invalidateQueries({ queryKey: keys.channels }),
  });
}

export function useDeleteChannel() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => call(http.DELETE("/api/channels/{channel_id}", { params: { path: { channel_id: id } } })),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: keys.channels });
      void client.invalidateQueries({ queryKey: keys.notices });
    },
  });
}

export function useTestChannel() {
  return useMutation({
    mutationFn: (id: number): Promise<ChannelTestResult> =>
      call(http.POST("/api/channels/{channel_id}/test", { params: { path: { channel_id: id } } })),
  });
}

export function useNotifyRules() {
  return useQuery({ queryKey: keys.notifyRules, queryFn: ({ signal }) => call(http.GET("/api/notification-rules", { signal })) });
}

export function useSaveNotifyRules() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: NotifyDefaults) => call(http.PUT("/api/notification-rules", { body })),
    onSuccess: (saved) => client.setQueryData(keys.notifyRules, saved),
  });
}

/** Notices and their delivery. Delivery is not an event: while any notice is still on its way, a
 * slow poll shows it arrive (run events refresh the list too, see events.ts). */
export function useNotices(params: NoticeListParams, enabled = true) {
  return useQuery({
    queryKey: keys.noticeList(params),
    queryFn: ({ signal }) => call(http.GET("/api/notifications", { params: { query: compact({ ...params }) }, signal })),
    enabled,
    placeholderData: keepPreviousData,
    refetchInterval: (query) =>
      query.state.data?.items.some((notice) => notice.status === "pending" || notice.status === "sending") ? 3_000 : false,
  });
}
