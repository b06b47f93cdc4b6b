import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { describe, expect, it } from "vitest";
import type { UpcomingRun } from "../api/types";
import { parseDateKey } from "../lib/upcoming";
import { mockFetch, renderWithProviders } from "../test/render";
import { UpcomingPage } from "./UpcomingPage";

const browser = Intl.DateTimeFormat().resolvedOptions().timeZone;
const FAR = browser === "Pacific/Kiritimati" ? "Pacific/Pago_Pago" : "Pacific/Kiritimati";

function at(day: string, hours: number, minutes = 0): string {
  const date = parseDateKey(day);
  date.setHours(hours, minutes);
  return date.toISOString();
}

function item(task: number, iso: string, timezone = browser): UpcomingRun {
  return { task_id: task, task_name: `task-${task}`, at: iso, local: iso, timezone };
}

function page(url: string) {
  return renderWithProviders(
    <MemoryRouter initialEntries={[url]}>
      <UpcomingPage />
    </MemoryRouter>,
  );
}

describe("UpcomingPage", () => {
  it("lists a day grouped by hour, with a task's own zone beside when it reads differently", async () => {
    const items = [item(1, at("2027-05-03", 9)), item(2, at("2027-05-03", 9, 30), FAR), item(3, at("2027-05-03", 14, 5))];
    const calls = mockFetch(() => ({ status: 200, body: { start: items[0]?.at, end: items[2]?.at, items, truncated: false } }));
    page("/upcoming?date=2027-05-03");
    const day = await screen.findByTestId("upcoming-day");
    const groups = within(day).getAllByRole("group");
    expect(groups.map((group) => group.getAttribute("aria-label"))).toEqual(["09:00: 2 runs", "14:00: 1 run"]);
    expect(within(day).getAllByTestId("task-zone-time")).toHaveLength(1);
    expect(within(day).getByTestId("task-zone-time").textContent).toContain(FAR);
    expect(screen.getByTestId("upcoming-zone").textContent).toContain(`Times in your zone (${browser})`);
    const call = calls.find((entry) => entry.url.startsWith("/api/schedules/upcoming"));
    const query = new URL(`http://x${call?.url ?? ""}`).searchParams;
    expect(query.get("from")).toBe(parseDateKey("2027-05-03").toISOString());
    expect(query.get("to")).toBe(parseDateKey("2027-05-04").toISOString());
    expect(query.get("limit")).toBe("2000");
  });

  it("shows a week as seven columns and says when the answer was cut", async () => {
    const items = [item(1, at("2027-05-04", 8)), item(1, at("2027-05-09", 8))];
    const calls = mockFetch(() => ({ status: 200, body: { start: "", end: "", items, truncated: true } }));
    page("/upcoming?view=week&date=2027-05-05");
    const week = await screen.findByTestId("upcoming-week");
    const columns = within(week).getAllByTestId("upcoming-column");
    expect(columns).toHaveLength(7);
    expect(within(columns[1] as HTMLElement).getAllByTestId("upcoming-run")).toHaveLength(1);
    expect(within(columns[6] as HTMLElement).getAllByTestId("upcoming-run")).toHaveLength(1);
    expect(within(columns[0] as HTMLElement).queryAllByTestId("upcoming-run")).toHaveLength(0);
    expect(screen.getByTestId("upcoming-truncated").textContent).toContain("Showing the first 2 runs");
    const query = new URL(`http://x${calls[0]?.url ?? ""}`).searchParams;
    expect(query.get("from")).toBe(parseDateKey("2027-05-03").toISOString());
    expect(query.get("to")).toBe(parseDateKey("2027-05-10").toISOString());
    // The next week is asked for when the user steps on.
    fireEvent.click(screen.getByText("Next week"));
    const nextFrom = parseDateKey("2027-05-10").toISOString();
    await waitFor(() => expect(calls.some((entry) => new URL(`http://x${entry.url}`).searchParams.get("from") === nextFrom)).toBe(true));
  });
});
