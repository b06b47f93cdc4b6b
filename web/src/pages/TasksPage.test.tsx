import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter, useLocation } from "react-router";
import { afterEach, describe, expect, it } from "vitest";
import type { TaskListItem } from "../api/types";
import { AuthProvider } from "../auth/AuthProvider";
import { storeKey } from "../auth/keyStore";
import { mockFetch, renderWithProviders, type RecordedCall } from "../test/render";
import { TasksPage } from "./TasksPage";

function task(overrides: Partial<TaskListItem>): TaskListItem {
  return {
    id: 1,
    name: "export",
    description: "",
    tags: ["billing", "a-rather-long-tag-name"],
    enabled: true,
    action: { type: "http", method: "GET", url: "https://example.com/", headers: {}, body: null, expect_status: null, follow_redirects: true },
    schedule: null,
    timeout_seconds: 60,
    retry: { max_attempts: 1, backoff_seconds: 1, backoff_factor: 2, max_backoff_seconds: 60, jitter: 0 },
    concurrency_policy: "forbid",
    misfire_policy: "run_once",
    misfire_grace_seconds: 60,
    priority: 0,
    queue: "default",
    next_run_at: null,
    last_run: { id: 9, status: "succeeded", at: "2027-01-01T00:00:00Z" },
    schedule_description: null,
    created_at: "2027-01-01T00:00:00Z",
    updated_at: "2027-01-01T00:00:00Z",
    version: 1,
    recent_runs: [
      { id: 9, status: "succeeded" },
      { id: 8, status: "failed" },
      { id: 7, status: "timed_out" },
    ],
    success_rate: 1 / 3,
    last_duration_ms: 1500,
    ...overrides,
  } as TaskListItem;
}

function Where() {
  const location = useLocation();
  return <output data-testid="where">{location.pathname + location.search}</output>;
}

function respond(call: RecordedCall) {
  if (call.url.startsWith("/api/auth/me")) return { status: 200, body: { name: "op", role: "operator", key_id: 1, prefix: "ts_x" } };
  if (call.url.startsWith("/api/tasks?") || call.url === "/api/tasks") {
    return { status: 200, body: { items: [task({}), task({ id: 2, name: "sweep", tags: [], recent_runs: [], success_rate: null, last_duration_ms: null, last_run: null })], total: 2 } };
  }
  return { status: 200, body: { ...task({ enabled: false }) } };
}

function page() {
  storeKey("ts_test_key");
  return renderWithProviders(
    <MemoryRouter initialEntries={["/tasks"]}>
      <AuthProvider>
        <TasksPage />
        <Where />
      </AuthProvider>
    </MemoryRouter>,
  );
}

afterEach(() => storeKey(null));

describe("TasksPage health at a glance", () => {
  it("shows each task's recent runs oldest first, its success rate and last duration", async () => {
    mockFetch(respond);
    page();
    const rows = await screen.findAllByTestId("task-row");
    const first = rows[0] as HTMLElement;
    const strip = within(first).getByTestId("run-strip");
    expect([...strip.querySelectorAll("[data-status]")].map((cell) => cell.getAttribute("data-status"))).toEqual(["timed_out", "failed", "succeeded"]);
    expect(strip.getAttribute("aria-label")).toBe("Last 3 runs, oldest first: timed out, failed, succeeded");
    expect(within(first).getByTestId("success-rate").textContent).toBe("33%");
    expect(within(first).getByTestId("last-duration").textContent).toBe("1.50 s");
    expect(within(rows[1] as HTMLElement).getByText("no runs yet")).toBeTruthy();
  });

  it("filters by a tag when it is clicked", async () => {
    const calls = mockFetch(respond);
    page();
    await screen.findAllByTestId("task-row");
    fireEvent.click(screen.getAllByRole("button", { name: "Filter by tag billing" })[0] as HTMLElement);
    await waitFor(() => expect(screen.getByTestId("where").textContent).toContain("tag=billing"));
    expect((screen.getByRole("textbox", { name: "Tag" }) as HTMLInputElement).value).toBe("billing");
    await waitFor(() => expect(calls.some((call) => call.url.startsWith("/api/tasks?") && call.url.includes("tag=billing"))).toBe(true));
  });

  it("runs and pauses a task from its row", async () => {
    const calls = mockFetch(respond);
    page();
    await screen.findByRole("button", { name: "Run export now" });
    fireEvent.click(screen.getByRole("button", { name: "Pause export" }));
    await waitFor(() => expect(calls.some((call) => call.method === "POST" && call.url === "/api/tasks/1/pause")).toBe(true));
    fireEvent.click(screen.getByRole("button", { name: "Run export now" }));
    await waitFor(() => expect(calls.some((call) => call.method === "POST" && call.url === "/api/tasks/1/run")).toBe(true));
  });
});
