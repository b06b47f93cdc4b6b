// Live updates: one EventSource on /api/events; each event invalidates the queries it can change.
// Invalidations are coalesced (at most a few refetches a second) so a burst of runs stays cheap.
import { useEffect, useSyncExternalStore } from "react";
import { useQueryClient, type QueryClient, type QueryKey } from "@tanstack/react-query";
import { keys } from "./queries";

export type LiveState = "connecting" | "live" | "offline";

interface EventData {
  task_id?: number;
  run_id?: number;
  status?: string;
}

export const EVENT_NAMES = ["task.created", "task.updated", "task.deleted", "run.created", "run.updated", "run.output"] as const;
export type EventName = (typeof EVENT_NAMES)[number];

/** The query keys an event makes stale. */
export function keysForEvent(name: EventName, data: EventData): QueryKey[] {
  const result: QueryKey[] = [];
  const taskId = typeof data.task_id === "number" ? data.task_id : undefined;
  const runId = typeof data.run_id === "number" ? data.run_id : undefined;
  if (name === "run.output") {
    if (runId !== undefined) result.push(keys.run(runId));
    return result;
  }
  if (name.startsWith("task.")) {
    result.push(keys.tasks, keys.stats);
    if (taskId !== undefined) result.push(keys.task(taskId));
    return result;
  }
  // run.created / run.updated: lists, the run, its task's last-run summary, the dashboard.
  result.push(keys.runs, keys.tasks, keys.stats, keys.workers);
  if (runId !== undefined) result.push(keys.run(runId));
  if (taskId !== undefined) result.push(keys.task(taskId));
  return result;
}

export class Coalescer {
  private pending = new Map<string, QueryKey>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly client: QueryClient,
    private readonly delayMs = 250,
  ) {}

  add(queryKeys: QueryKey[]): void {
    for (const key of queryKeys) this.pending.set(JSON.stringify(key), key);
    if (this.timer === null) this.timer = setTimeout(() => this.flush(), this.delayMs);
  }

  flush(): void {
    this.timer = null;
    const batch = [...this.pending.values()];
    this.pending.clear();
    for (const queryKey of batch) void this.client.invalidateQueries({ queryKey });
  }

  dispose(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.pending.clear();
  }
}

const RECONNECT_MS = 5_000;
const OFFLINE_POLL_MS = 10_000;

// The connection state lives outside React so that only the badge showing it re-renders when it changes.
let liveState: LiveState = "connecting";
const liveListeners = new Set<() => void>();

function setState(next: LiveState): void {
  if (next === liveState) return;
  liveState = next;
  for (const listener of liveListeners) listener();
}

export function useLiveState(): LiveState {
  return useSyncExternalStore(
    (listener) => {
      liveListeners.add(listener);
      return () => liveListeners.delete(listener);
    },
    () => liveState,
  );
}

/** Keep one EventSource open while signed in; its events invalidate queries. */
export function useLiveEvents(apiKey: string | null): void {
  const client = useQueryClient();

  useEffect(() => {
    if (!apiKey || typeof EventSource === "undefined") {
      setState("offline");
      return;
    }
    const coalescer = new Coalescer(client);
    let source: EventSource | null = null;
    let everOpen = false;
    let reconnectTimer: ReturnType<typeof setTimeout> | null = null;
    let pollTimer: ReturnType<typeof setInterval> | null = null;
    let disposed = false;

    // Without events, a slow poll keeps the screen roughly current.
    const startPolling = () => {
      if (pollTimer === null) pollTimer = setInterval(() => void client.invalidateQueries(), OFFLINE_POLL_MS);
    };
    const stopPolling = () => {
      if (pollTimer !== null) clearInterval(pollTimer);
      pollTimer = null;
    };

    const connect = () => {
      if (disposed) return;
      const current = new EventSource(`/api/events?access_token=${encodeURIComponent(apiKey)}`);
      source = current;
      current.onopen = () => {
        setState("live");
        stopPolling();
        // After a reconnect, events may have been missed: refresh whatever is on screen.
        if (everOpen) void client.invalidateQueries();
        everOpen = true;
      };
      current.onerror = () => {
        setState("offline");
        startPolling();
        if (current.readyState === EventSource.CLOSED && reconnectTimer === null) {
          // The browser gave up (an error status such as 401): re-check the key, then retry later.
          void client.invalidateQueries({ queryKey: keys.me });
          reconnectTimer = setTimeout(() => {
            reconnectTimer = null;
            connect();
          }, RECONNECT_MS);
        }
      };
      for (const name of EVENT_NAMES) {
        current.addEventListener(name, (event) => {
          let data: EventData = {};
          try {
            data = JSON.parse((event as MessageEvent<string>).data) as EventData;
          } catch {
            // keep the empty object: the broad keys still get invalidated
          }
          coalescer.add(keysForEvent(name, data));
        });
      }
    };
    connect();

    return () => {
      disposed = true;
      source?.close();
      coalescer.dispose();
      stopPolling();
      if (reconnectTimer !== null) clearTimeout(reconnectTimer);
    };
  }, [apiKey, client]);
}
