import { fireEvent, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { describe, expect, it, vi } from "vitest";
import type { Run, TaskListItem } from "../api/types";
import { formatDuration } from "../lib/format";
import { renderWithProviders } from "../test/render";
import { RunCards } from "./RunCards";
import { TaskCards } from "./TaskCards";

function task(fields: Partial<TaskListItem>): TaskListItem {
  return {
    id: 1,
    name: "export",
    description: "",
    tags: ["billing"],
    enabled: true,
    schedule: null,
    next_run_at: null,
    last_run: { id: 9, status: "failed", at: "2027-01-01T00:00:00Z" },
    schedule_description: "every hour",
    recent_runs: [],
    ...fields,
  } as unknown as TaskListItem;
}

function run(fields: Partial<Run>): Run {
  return {
    id: 1,
    task_id: 7,
    task_name: "nightly",
    trigger: "schedule",
    scheduled_for: "2026-12-02T10:00:00Z",
    attempt: 2,
    status: "failed",
    reason: null,
    started_at: "2026-12-02T10:00:01Z",
    finished_at: "2026-12-02T10:00:02Z",
    duration_ms: 1500,
    error: "connection refused\nat line 2",
    cancel_requested: false,
    max_attempts: 3,
    ...fields,
  } as Run;
}

const Health = ({ task: t }: { task: TaskListItem }) => <span data-testid="health">{t.name} health</span>;

describe("TaskCards", () => {
  it("shows each task's schedule, last run, health and tags, and hands its actions back", () => {
    const onAct = vi.fn(() => Promise.resolve());
    const onToggle = vi.fn();
    const onTag = vi.fn();
    const onToggleAll = vi.fn();
    renderWithProviders(
      <MemoryRouter>
        <TaskCards
          tasks={[task({}), task({ id: 2, name: "sweep", enabled: false, tags: [], last_run: null })]}
          caption="2 tasks"
          busy={false}
          emptyText={null}
          selectable
          selected={new Set([2])}
          allSelected={false}
          someSelected
          onToggleAll={onToggleAll}
          onToggle={onToggle}
          onTag={onTag}
          onAct={onAct}
          acting={null}
          health={Health}
        />
      </MemoryRouter>,
    );
    const [first, second] = screen.getAllByTestId("task-card");
    const one = within(first!);
    expect(one.getByRole("link", { name: "export" }).getAttribute("href")).toBe("/tasks/1");
    expect(one.getByText("every hour")).toBeTruthy();
    expect(one.getByRole("link", { name: "Last run: failed" }).getAttribute("href")).toBe("/runs/9");
    expect(one.getByTestId("health").textContent).toBe("export health");
    fireEvent.click(one.getByRole("button", { name: "Filter by tag billing" }));
    expect(onTag).toHaveBeenCalledWith("billing");
    fireEvent.click(one.getByRole("button", { name: "Run export now" }));
    expect(onAct).toHaveBeenCalledWith(expect.objectContaining({ id: 1 }), "run");
    fireEvent.click(one.getByRole("checkbox", { name: "Select export" }));
    expect(onToggle).toHaveBeenCalledWith(1);

    const two = within(second!);
    expect(second!.hasAttribute("data-selected")).toBe(true);
    expect(two.getByText("paused")).toBeTruthy();
    expect(two.getByText("never")).toBeTruthy();
    fireEvent.click(two.getByRole("button", { name: "Resume sweep" }));
    expect(onAct).toHaveBeenCalledWith(expect.objectContaining({ id: 2 }), "resume");
    fireEvent.click(screen.getByRole("checkbox", { name: "Select all tasks on this page" }));
    expect(onToggleAll).toHaveBeenCalled();
  });

  it("has no checkboxes or actions for a viewer", () => {
    renderWithProviders(
      <MemoryRouter>
        <TaskCards tasks={[task({})]} caption="1 task" busy={false} emptyText={null} selectable={false} selected={new Set()} allSelected={false} someSelected={false} onToggleAll={vi.fn()} onToggle={vi.fn()} onTag={vi.fn()} onAct={vi.fn()} acting={null} health={Health} />
      </MemoryRouter>,
    );
    expect(screen.queryAllByRole("checkbox")).toHaveLength(0);
    expect(screen.queryByRole("button", { name: "Run export now" })).toBeNull();
  });
});

describe("RunCards", () => {
  it("shows what the table's row shows, with selection and the row action", () => {
    const onToggle = vi.fn();
    renderWithProviders(
      <MemoryRouter>
        <RunCards runs={[run({}), run({ id: 2, status: "succeeded", error: null })]} caption="2 runs" busy={false} emptyText={null} showTask selected={new Set()} onToggle={onToggle} rowActions />
      </MemoryRouter>,
    );
    const [failed, ok] = screen.getAllByTestId("run-card");
    const one = within(failed!);
    expect(one.getByRole("link", { name: "#1" }).getAttribute("href")).toBe("/runs/1");
    expect(one.getByRole("link", { name: "nightly" }).getAttribute("href")).toBe("/tasks/7");
    expect(one.getByTestId("run-attempt").textContent).toBe("2 of 3");
    expect(one.getByTestId("run-error-snippet").textContent).toBe("connection refused");
    expect(one.getByText(formatDuration(1500))).toBeTruthy();
    expect(one.getByRole("button", { name: "Retry run #1" })).toBeTruthy();
    expect(within(ok!).queryByTestId("run-error-snippet")).toBeNull();
    expect(within(ok!).queryByRole("button")).toBeNull();
    fireEvent.click(screen.getByRole("checkbox", { name: "Select the runs on this page" }));
    expect(onToggle).toHaveBeenCalledWith([1, 2], true);
  });
});
