// The runs page's and the run page's server state: the filtered list (which can stop following live
// updates), a slot's attempts, retries, and the task picker's search.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { RunFilter } from "../lib/runs";
import { parseRunView, slotEnd } from "../lib/runs";
import { call, compact, http } from "./client";
import { fetchTask, keys } from "./queries";
import type { Run } from "./types";

export interface RunPageParams {
  filter: RunFilter;
  limit: number;
  offset: number;
}

function listQuery(filter: RunFilter) {
  return compact({
    task_id: filter.task_id,
    status: filter.status.length ? filter.status : undefined,
    trigger: filter.trigger.length ? filter.trigger : undefined,
    scheduled_from: filter.scheduled_from,
    scheduled_to: filter.scheduled_to,
    q: filter.q,
    finished_from: filter.finished_from,
    finished_to: filter.finished_to,
  });
}

export function fetchRunPage({ filter, limit, offset }: RunPageParams, signal?: AbortSignal) {
  return call(http.GET("/api/runs", { params: { query: { ...listQuery(filter), limit, offset } }, signal }));
}

/**
 * What /runs shows without a query in its URL, and the URL public/prefetch.js asks for it with
 * (keep the two in step).
 */
export function firstRunPage(): { url: string; params: RunPageParams } {
  const view = parseRunView(new URLSearchParams());
  return { url: `/api/runs?limit=${view.size}&offset=0`, params: { filter: view.filter, limit: view.size, offset: 0 } };
}

/**
 * A page of runs. While `paused`, the page keeps what it shows: live events and refocusing do not
 * refetch it (a page asked for afresh, never fetched before, is still fetched once).
 */
export function useRunPage(params: RunPageParams, paused = false) {
  return useQuery({
    queryKey: [...keys.runs, "page", params] as const,
    queryFn: ({ signal }) => fetchRunPage(params, signal),
    placeholderData: keepPreviousData,
    enabled: (query) => !paused || query.state.data === undefined,
  });
}

/** Every attempt of a run's slot (same task, same scheduled_for), first to last. */
export function useSlotAttempts(run: Run | undefined) {
  return useQuery({
    queryKey: [...keys.runs, "slot", run?.task_id, run?.scheduled_for] as const,
    enabled: run !== undefined,
    queryFn: async ({ signal }) => {
      if (!run) return [];
      const filter: RunFilter = {
        task_id: run.task_id,
        status: [],
        trigger: [],
        scheduled_from: run.scheduled_for,
        scheduled_to: slotEnd(run.scheduled_for),
      };
      const page = await fetchRunPage({ filter, limit: 100, offset: 0 }, signal);
      return page.items.filter((r) => r.scheduled_for === run.scheduled_for).sort((a, b) => a.attempt - b.attempt);
    },
  });
}

export type RetryTarget = { run_ids: number[] } | { filter: RunFilter };

export function useRetryRuns() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (target: RetryTarget) =>
      call(
        http.POST("/api/runs:retry", {
          body: "run_ids" in target ? { run_ids: target.run_ids } : { filter: { ...listQuery(target.filter), status: target.filter.status, trigger: target.filter.trigger } },
        }),
      ),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: keys.runs });
      void client.invalidateQueries({ queryKey: keys.tasks });
    },
  });
}

/** Tasks whose name has `q` in it, for the task picker. */
export function useTaskSearch(q: string) {
  return useQuery({
    queryKey: [...keys.tasks, "search", q] as const,
    queryFn: ({ signal }) => call(http.GET("/api/tasks", { params: { query: compact({ q: q || undefined, limit: 20, offset: 0, sort: "name" as const }) }, signal })),
    placeholderData: keepPreviousData,
    staleTime: 10_000,
  });
}

/** One task, when there is one to ask for (the picker's chosen task, for its name). */
export function useMaybeTask(id: number | undefined) {
  return useQuery({
    queryKey: keys.task(id ?? 0),
    queryFn: ({ signal }) => fetchTask(id ?? 0, signal),
    enabled: id !== undefined,
    retry: false,
  });
}
