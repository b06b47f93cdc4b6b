// Server state: one hook per resource. Live updates come from events.ts, which invalidates these keys.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, apiRequest, type Query } from "./client";
import type {
  ApiKey,
  CreatedApiKey,
  Me,
  Page,
  Role,
  Run,
  RunStatus,
  Schedule,
  SchedulePreview,
  Stats,
  Task,
  TaskSort,
  TaskSpec,
  Worker,
} from "./types";

export type { TaskSort };

export const keys = {
  me: ["me"] as const,
  tasks: ["tasks"] as const,
  taskList: (params: TaskListParams) => ["tasks", "list", params] as const,
  task: (id: number) => ["task", id] as const,
  runs: ["runs"] as const,
  runList: (params: RunListParams) => ["runs", "list", params] as const,
  run: (id: number) => ["run", id] as const,
  stats: ["stats"] as const,
  workers: ["workers"] as const,
  apiKeys: ["apiKeys"] as const,
};

export interface TaskListParams {
  limit: number;
  offset: number;
  q?: string;
  tag?: string;
  enabled?: "true" | "false";
  last_status?: RunStatus;
  sort?: TaskSort;
}

/** What /tasks shows without filters (the prefetch in index.html asks for the same). */
export const DEFAULT_TASK_LIST: TaskListParams = { limit: 50, offset: 0, sort: "name" };

export interface RunListParams {
  limit: number;
  offset: number;
  task_id?: number;
  status?: RunStatus;
}

export function useMe(enabled: boolean) {
  return useQuery({ queryKey: keys.me, queryFn: ({ signal }) => api.get<Me>("/api/auth/me", {}, signal), enabled, staleTime: 60_000 });
}

export function useTaskList(params: TaskListParams) {
  return useQuery({
    queryKey: keys.taskList(params),
    queryFn: ({ signal }) => api.get<Page<Task>>("/api/tasks", params as unknown as Query, signal),
    placeholderData: keepPreviousData,
  });
}

export function useTask(id: number) {
  return useQuery({ queryKey: keys.task(id), queryFn: ({ signal }) => api.get<Task>(`/api/tasks/${id}`, {}, signal) });
}

export function useRunList(params: RunListParams) {
  const { task_id, ...rest } = params;
  const path = task_id !== undefined ? `/api/tasks/${task_id}/runs` : "/api/runs";
  return useQuery({
    queryKey: keys.runList(params),
    queryFn: ({ signal }) => api.get<Page<Run>>(path, rest as unknown as Query, signal),
    placeholderData: keepPreviousData,
  });
}

export function useRun(id: number, live: boolean) {
  return useQuery({
    queryKey: keys.run(id),
    queryFn: ({ signal }) => api.get<Run>(`/api/runs/${id}`, {}, signal),
    // Events drive updates; while the run is active a slow poll is a safety net for missed events.
    refetchInterval: (query) => {
      const status = query.state.data?.status;
      return live && (status === "running" || status === "queued") ? 2_000 : false;
    },
  });
}

export function useStats() {
  return useQuery({ queryKey: keys.stats, queryFn: ({ signal }) => api.get<Stats>("/api/stats", {}, signal), refetchInterval: 30_000 });
}

export function useWorkers() {
  return useQuery({
    queryKey: keys.workers,
    queryFn: ({ signal }) => api.get<{ items: Worker[] }>("/api/workers", {}, signal),
    // Heartbeats are not events; a poll keeps "last heartbeat" honest.
    refetchInterval: 10_000,
  });
}

export function useApiKeys(enabled: boolean) {
  return useQuery({
    queryKey: keys.apiKeys,
    queryFn: ({ signal }) => api.get<{ items: ApiKey[] }>("/api/keys", {}, signal),
    enabled,
  });
}

export function previewSchedule(schedule: Schedule, signal?: AbortSignal): Promise<SchedulePreview> {
  return apiRequest<SchedulePreview>("/api/schedules/preview", {
    method: "POST",
    body: { schedule, count: 10 },
    signal,
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
  if (action === "delete") return api.delete(`/api/tasks/${id}`);
  return api.post<unknown>(`/api/tasks/${id}/${action}`);
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
    mutationFn: ({ id, spec, version }: { id?: number; spec: TaskSpec; version?: number }) =>
      id === undefined
        ? api.post<Task>("/api/tasks", spec)
        : api.put<Task>(`/api/tasks/${id}`, spec, version !== undefined ? { "If-Match": `"${version}"` } : {}),
    onSuccess: (task) => {
      client.setQueryData(keys.task(task.id), task);
      invalidate(task.id);
    },
  });
}

export function useCancelRun() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => api.post<Run>(`/api/runs/${id}/cancel`),
    onSuccess: (run) => {
      client.setQueryData(keys.run(run.id), (old: Run | undefined) => ({ ...old, ...run, output: run.output ?? old?.output ?? null }));
      void client.invalidateQueries({ queryKey: keys.runs });
    },
  });
}

export function useCreateApiKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: { name: string; role: Role }) => api.post<CreatedApiKey>("/api/keys", body),
    onSuccess: () => void client.invalidateQueries({ queryKey: keys.apiKeys }),
  });
}

export function useRevokeApiKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => api.delete(`/api/keys/${id}`),
    onSuccess: () => void client.invalidateQueries({ queryKey: keys.apiKeys }),
  });
}
