import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../api/client";
import type { TaskSpec } from "../api/types";
import { mockFetch, renderWithProviders } from "../test/render";
import { TaskForm } from "./TaskForm";
import { emptyForm } from "./taskForm";

const okPreview = { description: "every 5 minutes", timezone: "UTC", fire_times: [], dst_notes: [] };

function setup(onSave = vi.fn<(spec: TaskSpec) => Promise<unknown>>().mockResolvedValue(undefined), onConflict = vi.fn()) {
  mockFetch(() => ({ status: 200, body: okPreview }));
  renderWithProviders(<TaskForm initialValues={emptyForm("UTC")} submitLabel="Create task" onSave={onSave} onConflict={onConflict} previewDelayMs={10} />);
  return { onSave, onConflict };
}

function fill(label: RegExp, value: string) {
  fireEvent.change(screen.getByLabelText(label), { target: { value } });
}

describe("TaskForm validation", () => {
  it("shows errors beside the fields and does not save an incomplete task", async () => {
    const { onSave } = setup();
    fireEvent.click(screen.getByRole("button", { name: "Create task" }));
    expect(await screen.findByText("Give the task a name.")).toBeTruthy();
    expect(screen.getByText(/Enter the URL to call/)).toBeTruthy();
    expect(screen.getByLabelText(/^Name/).getAttribute("aria-invalid")).toBe("true");
    expect(onSave).not.toHaveBeenCalled();
  });

  it("saves a valid HTTP task as the API expects it", async () => {
    const { onSave } = setup();
    fill(/^Name/, "ping");
    fill(/^URL/, "https://example.com/ping");
    fireEvent.click(screen.getByRole("button", { name: "Create task" }));
    await waitFor(() => expect(onSave).toHaveBeenCalledTimes(1));
    const spec = onSave.mock.calls[0]?.[0];
    expect(spec).toMatchObject({
      name: "ping",
      action: { type: "http", method: "GET", url: "https://example.com/ping", headers: {}, body: null, expect_status: null },
      schedule: { type: "interval", seconds: 300 },
    });
  });

  it("puts the API's field errors beside the named fields", async () => {
    const onSave = vi.fn().mockRejectedValue(
      new ApiError(422, {
        title: "Invalid input",
        detail: "action.url: private address; schedule.seconds: too small",
        errors: [
          { field: "action.url", message: "refers to a private address" },
          { field: "schedule.seconds", message: "Input should be greater than or equal to 1" },
        ],
      }),
    );
    setup(onSave);
    fill(/^Name/, "ping");
    fill(/^URL/, "https://10.0.0.1/x");
    fireEvent.click(screen.getByRole("button", { name: "Create task" }));
    expect(await screen.findByText("refers to a private address")).toBeTruthy();
    expect(screen.getByLabelText(/^URL/).getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByText("Input should be greater than or equal to 1")).toBeTruthy();
    expect(screen.queryByTestId("form-error")).toBeNull();
  });

  it("shows a duplicate name (409) beside the name", async () => {
    const onSave = vi.fn().mockRejectedValue(new ApiError(409, { title: "Conflict", errors: [{ field: "name", message: "a task named “ping” already exists" }] }));
    setup(onSave);
    fill(/^Name/, "ping");
    fill(/^URL/, "https://example.com/");
    fireEvent.click(screen.getByRole("button", { name: "Create task" }));
    expect(await screen.findByText(/already exists/)).toBeTruthy();
    expect(screen.getByLabelText(/^Name/).getAttribute("aria-invalid")).toBe("true");
  });

  it("hands a stale version (412) to the conflict handler instead of showing an error", async () => {
    const onSave = vi.fn().mockRejectedValue(new ApiError(412, { title: "Precondition Failed" }));
    const { onConflict } = setup(onSave);
    fill(/^Name/, "ping");
    fill(/^URL/, "https://example.com/");
    fireEvent.click(screen.getByRole("button", { name: "Create task" }));
    await waitFor(() => expect(onConflict).toHaveBeenCalledTimes(1));
    expect(screen.queryByTestId("form-error")).toBeNull();
  });

  it("shows errors that name no field above the form", async () => {
    const onSave = vi.fn().mockRejectedValue(new ApiError(500, { title: "Internal Server Error", detail: "boom" }));
    setup(onSave);
    fill(/^Name/, "ping");
    fill(/^URL/, "https://example.com/");
    fireEvent.click(screen.getByRole("button", { name: "Create task" }));
    expect((await screen.findByTestId("form-error")).textContent).toContain("boom");
  });

  it("switches the form to the chosen action type", async () => {
    const { onSave } = setup();
    fireEvent.click(screen.getByRole("radio", { name: "Python function" }));
    fill(/^Name/, "py");
    fireEvent.click(screen.getByRole("button", { name: "Create task" }));
    expect(await screen.findByText("Enter the name the function was registered under.")).toBeTruthy();
    fill(/^Function/, "reports.nightly");
    fill(/^Keyword arguments/, '{"day": 1}');
    fireEvent.click(screen.getByRole("button", { name: "Create task" }));
    await waitFor(() => expect(onSave).toHaveBeenCalledTimes(1));
    expect(onSave.mock.calls[0]?.[0].action).toEqual({ type: "python", function: "reports.nightly", args: [], kwargs: { day: 1 } });
  });
});
