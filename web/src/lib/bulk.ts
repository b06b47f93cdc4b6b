import type { TaskBulkRequest, TaskBulkResult, TaskListQuery } from "../api/types";

export type BulkAction = TaskBulkRequest["action"];

/** What a bulk action applies to: the rows ticked, or every task the list's filter matches. */
export type BulkSelection = { ids: number[] } | { matching: number };

/** The list's filter (its URL's), as the bulk request's: paging and sorting left out. */
export interface ListFilter {
  q?: string;
  tags?: string[];
  enabled?: "true" | "false";
  last_status?: TaskListQuery["last_status"];
}

export function bulkRequest(action: BulkAction, selection: BulkSelection, filter: ListFilter): TaskBulkRequest {
  if ("ids" in selection) return { action, task_ids: selection.ids };
  const body: NonNullable<TaskBulkRequest["filter"]> = {};
  if (filter.q?.trim()) body.q = filter.q.trim();
  if (filter.tags?.length) body.tag = filter.tags;
  if (filter.enabled) body.enabled = filter.enabled === "true";
  if (filter.last_status) body.last_status = filter.last_status;
  return { action, filter: body };
}

export function selectionSize(selection: BulkSelection): number {
  return "ids" in selection ? selection.ids.length : selection.matching;
}

const VERBS: Record<BulkAction, [string, string]> = {
  pause: ["Pause", "Paused"],
  resume: ["Resume", "Resumed"],
  run: ["Run", "Started"],
  delete: ["Delete", "Deleted"],
};

function tasks(count: number): string {
  return `${count.toLocaleString()} task${count === 1 ? "" : "s"}`;
}

/** The confirm dialog's question, with the real count: "Pause 3,412 tasks?". */
export function bulkQuestion(action: BulkAction, count: number): string {
  return `${VERBS[action][0]} ${tasks(count)}?`;
}

/** What the server did, in a sentence: "Paused 3,411 tasks (1 was paused already)." */
export function bulkSummary(result: TaskBulkResult): string {
  const done = `${VERBS[result.action][1]} ${tasks(result.done.length)}`;
  const left = result.unchanged.length;
  if (!left) return `${done}.`;
  const state = result.action === "pause" ? "paused" : "enabled";
  return `${done} (${left.toLocaleString()} ${left === 1 ? "was" : "were"} ${state} already).`;
}
