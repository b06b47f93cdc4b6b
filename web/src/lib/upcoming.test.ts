import { describe, expect, it } from "vitest";
import type { UpcomingRun } from "../api/types";
import { addDays, byDay, byHour, dateKey, mondayOf, parseDateKey, sameWallClock, viewDays, viewWindow } from "./upcoming";

function run(at: Date, task = 1, timezone = "UTC"): UpcomingRun {
  return { task_id: task, task_name: `task ${task}`, at: at.toISOString(), local: at.toISOString(), timezone };
}

describe("the upcoming calendar", () => {
  it("reads and writes local dates", () => {
    const day = parseDateKey("2027-03-14");
    expect([day.getFullYear(), day.getMonth(), day.getDate(), day.getHours()]).toEqual([2027, 2, 14, 0]);
    expect(dateKey(day)).toBe("2027-03-14");
    const today = new Date(2027, 0, 5, 15, 30);
    expect(dateKey(parseDateKey("not a date", today))).toBe("2027-01-05");
    expect(dateKey(parseDateKey(null, today))).toBe("2027-01-05");
  });

  it("moves by calendar days and finds the Monday of a week", () => {
    expect(dateKey(addDays(parseDateKey("2027-02-27"), 2))).toBe("2027-03-01");
    expect(dateKey(mondayOf(parseDateKey("2027-03-14")))).toBe("2027-03-08"); // a Sunday
    expect(dateKey(mondayOf(parseDateKey("2027-03-08")))).toBe("2027-03-08"); // a Monday
  });

  it("asks for one local day, or Monday to the next Monday", () => {
    const date = parseDateKey("2027-03-10");
    expect(viewDays("day", date).map(dateKey)).toEqual(["2027-03-10"]);
    expect(viewDays("week", date).map(dateKey)).toEqual(["2027-03-08", "2027-03-09", "2027-03-10", "2027-03-11", "2027-03-12", "2027-03-13", "2027-03-14"]);
    expect(viewWindow("day", date)).toEqual({ from: parseDateKey("2027-03-10").toISOString(), to: parseDateKey("2027-03-11").toISOString() });
    const week = viewWindow("week", date);
    expect(week).toEqual({ from: parseDateKey("2027-03-08").toISOString(), to: parseDateKey("2027-03-15").toISOString() });
    // Never more than the API's 8 days, whatever the local DST changes.
    expect(new Date(week.to).getTime() - new Date(week.from).getTime()).toBeLessThanOrEqual(8 * 86_400_000);
  });

  it("groups runs by local day and by local hour, in order", () => {
    const base = parseDateKey("2027-05-03");
    const at = (hours: number, minutes = 0) => new Date(base.getFullYear(), base.getMonth(), base.getDate(), hours, minutes);
    const items = [run(at(9, 0), 1), run(at(9, 0), 2), run(at(9, 45), 1), run(at(11, 5), 3), run(at(24 + 1), 1)];
    const hours = byHour(items);
    expect(hours.map((hour) => [hour.start.getHours(), hour.items.length])).toEqual([
      [9, 3],
      [11, 1],
      [1, 1],
    ]);
    const days = byDay(items);
    expect([...days.keys()]).toEqual(["2027-05-03", "2027-05-04"]);
    expect(days.get("2027-05-03")?.map((item) => item.task_id)).toEqual([1, 2, 1, 3]);
  });

  it("says when a task's zone reads like the viewer's", () => {
    const iso = "2027-05-03T12:00:00Z";
    expect(sameWallClock(iso, "Europe/Berlin", "Europe/Berlin")).toBe(true);
    const browser = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const far = browser === "Pacific/Kiritimati" ? "Pacific/Pago_Pago" : "Pacific/Kiritimati";
    expect(sameWallClock(iso, far, browser)).toBe(false);
    expect(sameWallClock(iso, "Not/AZone", browser)).toBe(false);
  });
});
