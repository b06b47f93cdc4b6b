import { describe, expect, it } from "vitest";
import { fromZonedInput, toZonedInput, zoneOffsetMs } from "./format";

describe("wall clocks of a named zone", () => {
  it("reads a datetime-local value in the zone given, not the browser's", () => {
    expect(fromZonedInput("2027-01-15T09:30", "America/New_York")).toBe("2027-01-15T14:30:00.000Z");
    expect(fromZonedInput("2027-07-15T09:30", "America/New_York")).toBe("2027-07-15T13:30:00.000Z");
    expect(fromZonedInput("2027-07-15T09:30", "Europe/Berlin")).toBe("2027-07-15T07:30:00.000Z");
    expect(fromZonedInput("2027-07-15T09:30", "UTC")).toBe("2027-07-15T09:30:00.000Z");
  });

  it("shows an instant on the zone's wall clock", () => {
    expect(toZonedInput("2027-01-15T14:30:00Z", "America/New_York")).toBe("2027-01-15T09:30");
    expect(toZonedInput("2027-07-15T07:30:00Z", "Europe/Berlin")).toBe("2027-07-15T09:30");
    expect(toZonedInput("2027-03-14T07:00:00Z", "America/New_York")).toBe("2027-03-14T03:00");
    expect(toZonedInput(null, "Europe/Berlin")).toBe("");
  });

  it("reads a repeated time as its first occurrence and a skipped time forward by the change", () => {
    // New York, 7 November 2027: 01:00-02:00 happens twice (EDT, then EST).
    expect(fromZonedInput("2027-11-07T01:30", "America/New_York")).toBe("2027-11-07T05:30:00.000Z");
    // New York, 14 March 2027: 02:00-03:00 does not happen; 02:30 reads as 03:30 EDT.
    expect(fromZonedInput("2027-03-14T02:30", "America/New_York")).toBe("2027-03-14T07:30:00.000Z");
  });

  it("round-trips every hour across both changes", () => {
    for (let hour = 0; hour < 24 * 400; hour += 7) {
      const iso = new Date(Date.UTC(2027, 0, 1) + hour * 3_600_000).toISOString();
      const wall = toZonedInput(iso, "Australia/Lord_Howe");
      const back = fromZonedInput(wall, "Australia/Lord_Howe");
      expect(back === null ? null : toZonedInput(back, "Australia/Lord_Howe")).toBe(wall);
    }
  });

  it("knows the offsets, and falls back to the browser's zone for an unknown one", () => {
    expect(zoneOffsetMs(Date.UTC(2027, 0, 1), "Europe/Berlin")).toBe(3_600_000);
    expect(zoneOffsetMs(Date.UTC(2027, 6, 1), "America/New_York")).toBe(-4 * 3_600_000);
    expect(fromZonedInput("2027-07-15T09:30", "Not/AZone")).toBe(new Date("2027-07-15T09:30").toISOString());
    expect(fromZonedInput("nonsense", "Europe/Berlin")).toBeNull();
  });
});
