import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it, vi } from "vitest";
import { permissionsFor } from "../auth/AuthProvider";
import { Coalescer, keysForEvent } from "./events";

describe("keysForEvent", () => {
  it("refreshes a run's page on output, and only that", () => {
    expect(keysForEvent("run.output", { run_id: 5, task_id: 1 })).toEqual([["run", 5]]);
  });

  it("refreshes lists, the run, its task and the dashboard on run changes", () => {
    const keys = keysForEvent("run.updated", { run_id: 5, task_id: 1, status: "succeeded" });
    expect(keys).toContainEqual(["runs"]);
    expect(keys).toContainEqual(["tasks"]);
    expect(keys).toContainEqual(["stats"]);
    expect(keys).toContainEqual(["run", 5]);
    expect(keys).toContainEqual(["task", 1]);
  });

  it("refreshes task lists on task changes", () => {
    expect(keysForEvent("task.deleted", { task_id: 3 })).toEqual([["tasks"], ["stats"], ["task", 3]]);
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
});

describe("permissionsFor", () => {
  it("maps roles to what they may do", () => {
    expect(permissionsFor("viewer")).toMatchObject({ canOperate: false, canAdmin: false });
    expect(permissionsFor("operator")).toMatchObject({ canOperate: true, canAdmin: false });
    expect(permissionsFor("admin")).toMatchObject({ canOperate: true, canAdmin: true });
    expect(permissionsFor(undefined)).toMatchObject({ canOperate: false, canAdmin: false });
  });
});
