import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { ModalsProvider } from "@mantine/modals";
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

function respond(call: RecordedCall, total = 2) {
  if (call.url.startsWith("/api/auth/me")) return { status: 200, body: { name: "op", role: "operator", key_id: 1, prefix: "ts_x" } };
  if (call.url.startsWith("/api/tags")) {
    const q = new URL(call.url, "http://x").searchParams.get("q") ?? "";
    const all = [
      { tag: "billing", tasks: 12 },
      { tag: "backup", tasks: 3 },
      { tag: "ops", tasks: 40 },
    ];
    return { status: 200, body: all.filter((entry) => entry.tag.startsWith(q.toLowerCase())) };
  }
  if (call.url === "/api/tasks:bulk") {
    return { status: 200, body: { action: "pause", matched: total, done: Array.from({ length: total }, (_, i) => i + 1), unchanged: [], run_ids: [] } };
  }
  if (call.url.startsWith("/api/tasks?") || call.url === "/api/tasks") {
    return { status: 200, body: { items: [task({}), task({ id: 2, name: "sweep", tags: [], recent_runs: [], success_rate: null, last_duration_ms: null, last_run: null })], total } };
  }
  return { status: 200, body: { ...task({ enabled: false }) } };
}

function page(at = "/tasks") {
  storeKey("ts_test_key");
  return renderWithProviders(
    <ModalsProvider>
      <MemoryRouter initialEntries={[at]}>
        <AuthProvider>
          <TasksPage />
          <Where />
        </AuthProvider>
      </MemoryRouter>
    </ModalsProvider>,
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
    // The tag picker shows it picked.
    expect(within(screen.getByTestId("tag-picker").closest(".mantine-MultiSelect-root") as HTMLElement).getByText("billing")).toBeTruthy();
    await waitFor(() => expect(calls.some((call) => call.url.startsWith("/api/tasks?") && call.url.includes("tag=billing"))).toBe(true));
    // A second tag clicked adds to the filter: tasks with both.
    fireEvent.click(screen.getAllByRole("button", { name: "Filter by tag a-rather-long-tag-name" })[0] as HTMLElement);
    await waitFor(() => expect(screen.getByTestId("where").textContent).toContain("tag=billing&tag=a-rather-long-tag-name"));
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

  it("suggests tags from the server with their counts, and filters by the one picked", async () => {
    const calls = mockFetch((call) => respond(call));
    page();
    await screen.findAllByTestId("task-row");
    const picker = screen.getByTestId("tag-picker");
    fireEvent.click(picker);
    fireEvent.change(picker, { target: { value: "B" } });
    await waitFor(() => expect(calls.some((call) => call.url === "/api/tags?q=B&limit=20")).toBe(true));
    // Only the tags starting with what was typed, in any case, each with its count. (jsdom runs no
    // transitions: the dropdown counts as hidden, hence `hidden`.)
    await waitFor(() => expect(screen.queryByRole("option", { name: /ops/, hidden: true })).toBeNull());
    const option = await screen.findByRole("option", { name: "billing 12 tasks", hidden: true });
    expect(within(option).getByTestId("tag-count").textContent).toBe("12 tasks");
    expect(screen.getByRole("option", { name: "backup 3 tasks", hidden: true })).toBeTruthy();
    fireEvent.click(option);
    await waitFor(() => expect(screen.getByTestId("where").textContent).toContain("tag=billing"));
  });

  it("selects all matching tasks beyond the page, confirms with the count, and sends the filter", async () => {
    const calls = mockFetch((call) => respond(call, 3412));
    page("/tasks?tag=ops&enabled=true");
    await screen.findAllByTestId("task-row");
    fireEvent.click(screen.getByRole("checkbox", { name: "Select all tasks on this page" }));
    fireEvent.click(await screen.findByRole("button", { name: `Select all ${(3412).toLocaleString()} matching tasks` }));
    expect(screen.getByText(`All ${(3412).toLocaleString()} matching tasks selected`)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Pause" }));
    expect(await screen.findByText(`Pause ${(3412).toLocaleString()} tasks?`)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: `Pause ${(3412).toLocaleString()} tasks` }));
    await waitFor(() => expect(calls.some((call) => call.url === "/api/tasks:bulk")).toBe(true));
    const sent = calls.find((call) => call.url === "/api/tasks:bulk");
    expect(sent?.method).toBe("POST");
    expect(sent?.body).toEqual({ action: "pause", filter: { tag: ["ops"], enabled: true } });
    // Done: the selection is cleared.
    await waitFor(() => expect(screen.queryByText(/matching tasks selected/)).toBeNull());
  });

  it("sends the ticked rows' ids when only the page is selected", async () => {
    const calls = mockFetch((call) => respond(call));
    page();
    await screen.findAllByTestId("task-row");
    fireEvent.click(screen.getByRole("checkbox", { name: "Select sweep" }));
    // Everything matching is on this page: nothing more to offer.
    fireEvent.click(screen.getByRole("checkbox", { name: "Select export" }));
    expect(screen.queryByRole("button", { name: /Select all .* matching tasks/ })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Resume" }));
    await waitFor(() => expect(calls.some((call) => call.url === "/api/tasks:bulk")).toBe(true));
    expect(calls.find((call) => call.url === "/api/tasks:bulk")?.body).toEqual({ action: "resume", task_ids: [1, 2] });
  });
});
