// Live updates: one EventSource on /api/events; each event invalidates the queries it can change.
// Invalidations are coalesced (at most a few refetches a second) so a burst of runs stays cheap.
//
// The stream is opened with a ticket (POST /api/events/tickets, short-lived and read-only), never
// with the API key in the URL. Tickets expire, so every (re)connection asks for a new one: the
// browser's own reconnect (same URL, old ticket) is never used.
//
// `resync` from the server (this tab fell behind, or the server's event relay lost events) and a
// reconnect (events were missed while the stream was down) both refresh every query that events
// keep fresh, since no event will say what changed meanwhile.
import { useEffect, useSyncExternalStore } from "react";
import { useQueryClient, type QueryClient, type QueryKey } from "@tanstack/react-query";
import { call, http } from "./client";
import { keys } from "./queries";

export type LiveState = "connecting" | "live" | "offline";

interface EventData {
  task_id?: number;
  run_id?: number;
  status?: string;
}

export const EVENT_NAMES = ["task.created", "task.updated", "task.deleted", "run.created", "run.updated", "run.output"] as const;
export type EventName = (typeof EVENT_NAMES)[number];

/**
 * Every query that live events keep fresh, as key prefixes: task lists and pages, run lists and
 * pages, the dashboard's stats, the status page, workers, notices. (Not the caller's identity or the
 * key list: no event touches those.)
 */
export const LIVE_KEYS: readonly QueryKey[] = [keys.tasks, ["task"], keys.runs, ["run"], keys.stats, keys.status, keys.workers, keys.notices];

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
    result.push(keys.tasks, keys.stats, keys.status);
    if (taskId !== undefined) result.push(keys.task(taskId));
    return result;
  }
  // run.created / run.updated: lists, the run, its task's last-run summary, the dashboard, and the
  // notices an outcome writes in its own transaction.
  result.push(keys.runs, keys.tasks, keys.stats, keys.status, keys.workers, keys.notices);
  if (runId !== undefined) result.push(keys.run(runId));
  if (taskId !== undefined) result.push(keys.task(taskId));
  return result;
}

// The server may answer a task list up to 0.5 s behind the runs' events (services/tasks.py,
// RUN_LAG_SECONDS): a list refetched because of a run event is refetched once more after that, so
// the last event of a burst is always shown.
const TRAILING_LISTS: QueryKey[] = [keys.tasks];
const SETTLE_MS = 750;

export class Coalescer {
  private pending = new Map<string, QueryKey>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private settleTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly client: QueryClient,
    private readonly delayMs = 250,
    private readonly settleMs = SETTLE_MS,
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
    const trailing = TRAILING_LISTS.filter((key) => batch.some((queryKey) => sameKey(queryKey, key)));
    if (trailing.length > 0) {
      if (this.settleTimer !== null) clearTimeout(this.settleTimer);
      this.settleTimer = setTimeout(() => {
        this.settleTimer = null;
        for (const queryKey of trailing) void this.client.invalidateQueries({ queryKey });
      }, this.settleMs);
    }
  }

  dispose(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.settleTimer !== null) clearTimeout(this.settleTimer);
    this.timer = null;
    this.settleTimer = null;
    this.pending.clear();
  }
}

// Reconnecting: soon after a drop, then less often while the server stays away.
const RECONNECT_MS = [1_000, 2_000, 5_000] as const;
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

/** A new ticket for one connection of the event stream (asked with the session cookie or the key in a
 * header, so neither goes in a URL). */
export async function fetchEventTicket(): Promise<string> {
  const answer = await call(http.POST("/api/events/tickets"));
  return answer.ticket;
}

export function eventStreamUrl(ticket: string): string {
  return `/api/events?ticket=${encodeURIComponent(ticket)}`;
}

/** Keep one EventSource open while signed in; its events invalidate queries. */
export function useLiveEvents(signedIn: boolean): void {
  const client = useQueryClient();

  useEffect(() => {
    if (!signedIn || typeof EventSource === "undefined") {
      setState("offline");
      return;
    }
    const coalescer = new Coalescer(client);
    let source: EventSource | null = null;
    let everOpen = false;
    let failures = 0;
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
    const resync = () => coalescer.add([...LIVE_KEYS]);

    const scheduleReconnect = () => {
      if (disposed || reconnectTimer !== null) return;
      const delay = RECONNECT_MS[Math.min(failures, RECONNECT_MS.length - 1)];
      failures += 1;
      reconnectTimer = setTimeout(() => {
        reconnectTimer = null;
        void connect();
      }, delay);
    };

    const goOffline = () => {
      setState("offline");
      startPolling();
      scheduleReconnect();
    };

    const connect = async () => {
      if (disposed) return;
      let ticket: string;
      try {
        ticket = await fetchEventTicket();
      } catch {
        // A 401 has already signed the tab out (client.ts); anything else: retry later.
        if (!disposed) goOffline();
        return;
      }
      if (disposed) return;
      const current = new EventSource(eventStreamUrl(ticket));
      source = current;
      current.onopen = () => {
        // After a reconnect (or a first connection that took retries), events may have been missed
        // meanwhile: refresh what they keep fresh.
        const missed = everOpen || failures > 0;
        failures = 0;
        everOpen = true;
        setState("live");
        stopPolling();
        if (missed) resync();
      };
      current.onerror = () => {
        // Its ticket may have expired: close it (no browser retry with the old URL) and connect anew.
        current.close();
        if (source === current) source = null;
        goOffline();
      };
      current.addEventListener("resync", resync);
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
    void connect();

    return () => {
      disposed = true;
      source?.close();
      coalescer.dispose();
      stopPolling();
      if (reconnectTimer !== null) clearTimeout(reconnectTimer);
    };
  }, [signedIn, client]);
}

function sameKey(a: QueryKey, b: QueryKey): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
