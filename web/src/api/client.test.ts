import { afterEach, describe, expect, it, vi } from "vitest";
import { storeKey } from "../auth/keyStore";
import { mockFetch } from "../test/render";
import { ApiError, bearer, call, http, onUnauthorized } from "./client";
import { fetchRunList, fetchTaskList, performTaskAction } from "./queries";

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  const error: unknown = await promise.then(
    () => null,
    (reason: unknown) => reason,
  );
  if (!(error instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(error)}`);
  return error;
}

describe("the typed API client", () => {
  afterEach(() => storeKey(null));

  it("sends the stored key, or the one a call brings, as a bearer token", async () => {
    const calls = mockFetch(() => ({ status: 200, body: { name: "k", role: "admin" } }));
    storeKey("stored-key");
    await call(http.GET("/api/auth/me"));
    await call(http.GET("/api/auth/me", { headers: bearer("other-key") }));
    expect(calls.map((item) => item.headers.authorization)).toEqual(["Bearer stored-key", "Bearer other-key"]);
    expect(calls[0]?.url).toBe("/api/auth/me");
  });

  it("builds paths and queries from the typed parameters, leaving out empty ones", async () => {
    const calls = mockFetch(() => ({ status: 200, body: { items: [], total: 0 } }));
    await fetchTaskList({ limit: 50, offset: 0, q: "", enabled: "false", sort: "-name" });
    await fetchRunList({ limit: 20, offset: 40, task_id: 7, status: "failed" });
    await fetchRunList({ limit: 20, offset: 0 });
    expect(calls.map((item) => item.url)).toEqual([
      "/api/tasks?limit=50&offset=0&sort=-name&enabled=false",
      "/api/tasks/7/runs?limit=20&offset=40&status=failed",
      "/api/runs?limit=20&offset=0",
    ]);
  });

  it("turns problem+json into ApiError with the field errors, FastAPI's detail list included", async () => {
    mockFetch((item) =>
      item.url.startsWith("/api/tasks/1/run")
        ? { status: 422, body: { title: "Invalid input", status: 422, errors: [{ field: "schedule.seconds", message: "too small" }] } }
        : { status: 422, body: { detail: [{ loc: ["body", "action", "url"], msg: "bad URL" }] } },
    );
    const problem = await failure(performTaskAction(1, "run"));
    expect(problem.status).toBe(422);
    expect(problem.fieldErrors).toEqual([{ field: "schedule.seconds", message: "too small" }]);
    const fastapi = await failure(call(http.POST("/api/tasks", { body: { name: "x" } as never })));
    expect(fastapi.fieldErrors).toEqual([{ field: "action.url", message: "bad URL" }]);
  });

  it("keeps the status of a stale version (412) for the conflict handler", async () => {
    mockFetch(() => ({ status: 412, body: { title: "Precondition Failed", status: 412, detail: "the task changed" } }));
    const error = await failure(performTaskAction(3, "pause"));
    expect(error.status).toBe(412);
    expect(error.message).toBe("the task changed");
  });

  it("reports 401s to the listeners unless the call handles its own", async () => {
    mockFetch(() => ({ status: 401, body: { title: "Unauthorized", status: 401 } }));
    const listener = vi.fn();
    const stop = onUnauthorized(listener);
    await failure(call(http.GET("/api/stats")));
    expect(listener).toHaveBeenCalledTimes(1);
    await failure(call(http.GET("/api/auth/me", { headers: bearer("bad") }), { quiet401: true }));
    expect(listener).toHaveBeenCalledTimes(1);
    stop();
  });

  it("answers status 0 when the server cannot be reached", async () => {
    vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("Failed to fetch"));
    const error = await failure(call(http.GET("/api/workers")));
    expect(error.status).toBe(0);
    expect(error.problem.title).toBe("Network error");
  });
});
