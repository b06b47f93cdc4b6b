import { QueryClient, QueryClientProvider, type QueryKey } from "@tanstack/react-query";
import { renderHook } from "@testing-library/react";
import { createElement, type ReactNode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { permissionsFor } from "../auth/AuthProvider";
import { storeKey } from "../auth/keyStore";
import { mockFetch, type RecordedCall } from "../test/render";
import { Coalescer, keysForEvent, useLiveEvents } from "./events";
import { keys } from "./queries";

/** A stand-in for the browser's EventSource: records its URL; the test opens it, fails it, sends events. */
class FakeEventSource extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static instances: FakeEventSource[] = [];
  readyState = FakeEventSource.CONNECTING;
  onopen: ((event: Event) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;

  constructor(readonly url: string) {
    super();
    FakeEventSource.instances.push(this);
  }

  open(): void {
    this.readyState = FakeEventSource.OPEN;
    this.onopen?.(new Event("open"));
  }

  fail(): void {
    this.onerror?.(new Event("error"));
  }

  send(name: string, data: unknown): void {
    this.dispatchEvent(new MessageEvent(name, { data: JSON.stringify(data) }));
  }

  close(): void {
    this.readyState = FakeEventSource.CLOSED;
  }
}

const API_KEY = "tsk_secret-key-value";

// What the screens hold: every kind of query that live events keep fresh, plus the caller's identity.
const LIVE: QueryKey[] = [
  keys.taskList({ limit: 50, offset: 0, sort: "name" }),
  keys.task(3),
  keys.runList({ limit: 20, offset: 0 }),
  keys.run(5),
  keys.stats,
  keys.status,
  keys.workers,
];

function setupLive() {
  const tickets: RecordedCall[] = [];
  let issued = 0;
  mockFetch((call) => {
    tickets.push(call);
    issued += 1;
    return { status: 201, body: { ticket: `ticket-${issued}`, expires_at: "2026-01-01T00:01:00Z" } };
  });
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  for (const key of [...LIVE, keys.me]) client.setQueryData(key, { seeded: true });
  const wrapper = ({ children }: { children: ReactNode }) => createElement(QueryClientProvider, { client }, children);
  storeKey(API_KEY);
  const hook = renderHook(() => useLiveEvents(true), { wrapper });
  const invalidated = () => LIVE.filter((key) => client.getQueryState(key)?.isInvalidated);
  return { client, tickets, hook, invalidated };
}

async function nextSource(count: number): Promise<FakeEventSource> {
  await vi.waitFor(() => expect(FakeEventSource.instances.length).toBe(count));
  return FakeEventSource.instances[count - 1]!;
}

describe("useLiveEvents", () => {
  beforeEach(() => {
    FakeEventSource.instances = [];
    vi.stubGlobal("EventSource", FakeEventSource);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
  });
  afterEach(() => {
    storeKey(null);
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it("opens the stream with a ticket fetched with the key in a header, never the key in the URL", async () => {
    const { tickets, hook } = setupLive();
    const source = await nextSource(1);
    expect(tickets).toHaveLength(1);
    expect(tickets[0]).toMatchObject({ url: "/api/events/tickets", method: "POST" });
    expect(tickets[0]?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(tickets[0]?.headers["x-tasksched-request"]).toBe("1");
    expect(source.url).toBe("/api/events?ticket=ticket-1");
    expect(source.url).not.toContain(API_KEY);
    hook.unmount();
    expect(source.readyState).toBe(FakeEventSource.CLOSED);
  });

  it("refreshes every live query on the server's resync event", async () => {
    const { invalidated, client } = setupLive();
    const source = await nextSource(1);
    source.open();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(invalidated()).toEqual([]);
    source.send("resync", {});
    await vi.advanceTimersByTimeAsync(300);
    expect(invalidated()).toEqual(LIVE);
    // Events don't change who the caller is: that query is left alone.
    expect(client.getQueryState(keys.me)?.isInvalidated).toBe(false);
  });

  it("reconnects with a new ticket after an error and then refreshes every live query", async () => {
    const { invalidated, tickets } = setupLive();
    const first = await nextSource(1);
    first.open();
    first.fail();
    // The dropped source is closed, so the browser cannot retry with the expired ticket.
    expect(first.readyState).toBe(FakeEventSource.CLOSED);
    await vi.advanceTimersByTimeAsync(1_000);
    const second = await nextSource(2);
    expect(tickets).toHaveLength(2);
    expect(second.url).toBe("/api/events?ticket=ticket-2");
    expect(invalidated()).toEqual([]);
    second.open();
    await vi.advanceTimersByTimeAsync(300);
    expect(invalidated()).toEqual(LIVE);
  });
});

describe("keysForEvent", () => {
  it("refreshes a run's page on output, and only that", () => {
    expect(keysForEvent("run.output", { run_id: 5, task_id: 1 })).toEqual([["run", 5]]);
  });

  it("refreshes lists, the run, its task, the dashboard and the status page on run changes", () => {
    const keys = keysForEvent("run.updated", { run_id: 5, task_id: 1, status: "succeeded" });
    expect(keys).toContainEqual(["runs"]);
    expect(keys).toContainEqual(["tasks"]);
    expect(keys).toContainEqual(["stats"]);
    expect(keys).toContainEqual(["status"]);
    expect(keys).toContainEqual(["run", 5]);
    expect(keys).toContainEqual(["task", 1]);
  });

  it("refreshes task lists on task changes", () => {
    expect(keysForEvent("task.deleted", { task_id: 3 })).toEqual([["tasks"], ["stats"], ["status"], ["task", 3]]);
  });
});

describe("Coalescer", () => {
  it("invalidates each key once per burst", () => {
    vi.useFakeTimers();
    const client = new QueryClient();
    const spy = vi.spyOn(client, "invalidateQueries");
    const coalescer = new Coalescer(client, 100);
    for (let i = 0; i < 50; i++) coalescer.add(keysForEvent("run.updated", { run_id: 1, task_id: 1 }));
    expect(spy).not.toHaveBeenCalled();
    vi.advanceTimersByTime(100);
    expect(spy).toHaveBeenCalledTimes(keysForEvent("run.updated", { run_id: 1, task_id: 1 }).length);
    vi.useRealTimers();
  });

  it("refetches the task lists once more after a run burst, since the server may trail runs", () => {
    vi.useFakeTimers();
    const client = new QueryClient();
    const spy = vi.spyOn(client, "invalidateQueries");
    const coalescer = new Coalescer(client, 100, 750);
    coalescer.add(keysForEvent("run.updated", { run_id: 1, task_id: 1 }));
    vi.advanceTimersByTime(100);
    const first = spy.mock.calls.length;
    vi.advanceTimersByTime(749);
    expect(spy).toHaveBeenCalledTimes(first);
    vi.advanceTimersByTime(1);
    expect(spy).toHaveBeenCalledTimes(first + 1);
    expect(spy).toHaveBeenLastCalledWith({ queryKey: keys.tasks });
    coalescer.dispose();
    vi.useRealTimers();
  });
});

describe("permissionsFor", () => {
  it("maps roles to what they may do", () => {
    expect(permissionsFor("viewer")).toMatchObject({ canOperate: false, canAdmin: false });
    expect(permissionsFor("operator")).toMatchObject({ canOperate: true, canAdmin: false });
    expect(permissionsFor("admin")).toMatchObject({ canOperate: true, canAdmin: true });
    expect(permissionsFor(undefined)).toMatchObject({ canOperate: false, canAdmin: false });
  });
});
