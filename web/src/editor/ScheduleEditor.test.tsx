import { fireEvent, screen, waitFor } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { mockFetch, renderWithProviders } from "../test/render";
import { ScheduleEditor } from "./ScheduleEditor";
import { emptyForm, type ScheduleValues } from "./taskForm";

function Harness({ initial, errors }: { initial: Partial<ScheduleValues>; errors?: Record<string, string> }) {
  const [value, setValue] = useState<ScheduleValues>({ ...emptyForm("UTC").schedule, ...initial });
  return (
    <>
      <ScheduleEditor value={value} onChange={setValue} errors={errors} previewDelayMs={10} />
      <output data-testid="state">{JSON.stringify(value)}</output>
    </>
  );
}

const preview = {
  description: "At 02:00 every day (Europe/Berlin)",
  timezone: "Europe/Berlin",
  fire_times: [
    { utc: "2030-03-30T01:00:00Z", local: "2030-03-30T02:00:00+01:00" },
    { utc: "2030-03-31T01:00:00Z", local: "2030-03-31T03:00:00+02:00" },
  ],
  dst_notes: ["2030-03-31: 02:00 does not exist; runs at 03:00"],
};

describe("ScheduleEditor", () => {
  it("previews a cron schedule: words, fire times in both zones and DST notes", async () => {
    const calls = mockFetch(() => ({ status: 200, body: preview }));
    renderWithProviders(<Harness initial={{ type: "cron", expression: "0 2 * * *", timezone: "Europe/Berlin" }} />);
    expect(await screen.findByText("At 02:00 every day (Europe/Berlin)")).toBeTruthy();
    expect(screen.getByTestId("dst-notes").textContent).toContain("does not exist");
    const rows = screen.getByTestId("fire-times").querySelectorAll("tbody tr");
    expect(rows).toHaveLength(2);
    // The browser zone column is there unless the task's zone is the browser's.
    expect(screen.getByText(/Task's zone/)).toBeTruthy();
    const call = calls.find((item) => item.url === "/api/schedules/preview");
    expect(call?.method).toBe("POST");
    expect(call?.body).toEqual({
      schedule: { type: "cron", expression: "0 2 * * *", timezone: "Europe/Berlin", start_at: null, end_at: null, jitter_seconds: 0 },
      count: 10,
    });
  });

  it("asks again as the user types, and shows the API's error beside the expression", async () => {
    const calls = mockFetch((call) => {
      const schedule = (call.body as { schedule: { expression: string } }).schedule;
      if (schedule.expression.includes("99")) {
        return {
          status: 422,
          body: { title: "Invalid input", status: 422, errors: [{ field: "schedule.expression", message: "hour field: 99 is out of range (0-23)" }] },
        };
      }
      return { status: 200, body: preview };
    });
    renderWithProviders(<Harness initial={{ type: "cron", expression: "0 2 * * *", timezone: "Europe/Berlin" }} />);
    await screen.findByText(preview.description);
    const input = screen.getByLabelText(/Cron expression/);
    fireEvent.change(input, { target: { value: "0 99 * * *" } });
    expect(await screen.findByText("hour field: 99 is out of range (0-23)")).toBeTruthy();
    expect(input.getAttribute("aria-invalid")).toBe("true");
    // The message is tied to the input for screen readers.
    const describedBy = input.getAttribute("aria-describedby") ?? "";
    expect(describedBy.split(" ").some((id) => document.getElementById(id)?.textContent?.includes("out of range"))).toBe(true);
    expect(calls.filter((call) => call.url === "/api/schedules/preview").length).toBeGreaterThanOrEqual(2);
    // Fixing it clears the error and shows the preview again.
    fireEvent.change(input, { target: { value: "0 3 * * *" } });
    await waitFor(() => expect(screen.queryByText(/out of range/)).toBeNull());
    expect(await screen.findByText(preview.description)).toBeTruthy();
  });

  it("names the clock changes of the coming year in the schedule's zone", async () => {
    mockFetch(() => ({ status: 200, body: preview }));
    renderWithProviders(<Harness initial={{ type: "cron", expression: "0 2 * * *", timezone: "Europe/Berlin" }} />);
    const box = await screen.findByTestId("dst-notes");
    expect(box.textContent).toContain("Clock changes in the next 12 months (Europe/Berlin)");
  });

  it("shows no DST box for an interval, even while an older cron answer is on screen", async () => {
    mockFetch((call) => {
      const schedule = (call.body as { schedule: { type: string } }).schedule;
      return { status: 200, body: schedule.type === "cron" ? preview : { ...preview, description: "every 5 minutes", timezone: "UTC", dst_notes: [] } };
    });
    renderWithProviders(<Harness initial={{ type: "cron", expression: "0 2 * * *", timezone: "Europe/Berlin" }} />);
    await screen.findByTestId("dst-notes");
    fireEvent.click(screen.getByText("Interval"));
    await waitFor(() => expect(screen.queryByTestId("dst-notes")).toBeNull());
    expect(screen.queryByTestId("no-dst")).toBeNull();
    expect(await screen.findByText("every 5 minutes")).toBeTruthy();
  });

  it("labels start and end with the zone they are entered in", async () => {
    mockFetch(() => ({ status: 200, body: preview }));
    renderWithProviders(<Harness initial={{ type: "cron", expression: "0 2 * * *", timezone: "America/New_York", start_at: "2030-01-02T08:00" }} />);
    expect(screen.getByLabelText("Start at (America/New_York)")).toBeTruthy();
    expect(screen.getByLabelText("End at (America/New_York)")).toBeTruthy();
    expect(screen.getByTestId("window-zone").textContent).toContain("schedule's time zone (America/New_York)");
    // The UTC instant the wall time stands for is shown beside it.
    expect(screen.getByText(/America\/New_York time · 2030-01-02 13:00:00 UTC/)).toBeTruthy();
    fireEvent.click(screen.getByText("Interval"));
    expect(screen.getByTestId("window-zone").textContent).toContain("your time zone");
  });

  it("does not call the API for an expression with the wrong number of fields", async () => {
    const calls = mockFetch(() => ({ status: 200, body: preview }));
    renderWithProviders(<Harness initial={{ type: "cron", expression: "* * *", timezone: "UTC" }} />);
    expect(await screen.findByText(/has 3/)).toBeTruthy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toHaveLength(0);
  });

  it("sends an interval in seconds and fills presets", async () => {
    const calls = mockFetch(() => ({ status: 200, body: { ...preview, description: "every 2 minutes", timezone: "UTC", dst_notes: [] } }));
    renderWithProviders(<Harness initial={{ type: "interval", every: 2, unit: "minutes" }} />);
    expect(await screen.findByText("every 2 minutes")).toBeTruthy();
    expect((calls[0]?.body as { schedule: unknown }).schedule).toMatchObject({ type: "interval", seconds: 120 });

    fireEvent.click(screen.getByRole("radio", { name: "Cron" }));
    fireEvent.click(screen.getByRole("button", { name: "Weekdays at 09:00" }));
    await waitFor(() => expect(JSON.parse(screen.getByTestId("state").textContent ?? "{}")).toMatchObject({ type: "cron", expression: "0 9 * * 1-5" }));
  });

  it("shows errors it is given (e.g. from a failed save) beside the field", () => {
    mockFetch(() => ({ status: 200, body: preview }));
    renderWithProviders(<Harness initial={{ type: "interval", every: 5 }} errors={{ "schedule.every": "Input should be greater than or equal to 1" }} />);
    expect(screen.getByText("Input should be greater than or equal to 1")).toBeTruthy();
    expect(screen.getByLabelText(/Every/).getAttribute("aria-invalid")).toBe("true");
  });

  it("needs no preview for a manual-only task", () => {
    const calls = mockFetch(() => ({ status: 200, body: preview }));
    renderWithProviders(<Harness initial={{ type: "none" }} />);
    expect(screen.getByText(/only when someone presses/)).toBeTruthy();
    expect(screen.queryByTestId("schedule-preview")).toBeNull();
    expect(calls).toHaveLength(0);
  });
});
