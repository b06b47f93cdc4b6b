import { describe, expect, it } from "vitest";
import { diffDocuments, showValue } from "./diff";

describe("diffDocuments", () => {
  it("lists the changed leaves of an update by path, nothing for equal fields", () => {
    const before = { name: "a", tags: ["x"], action: { type: "http", headers: { "X-Token": "********" } }, version: 1 };
    const after = { name: "a", tags: ["x", "y"], action: { type: "http", headers: {} }, version: 2 };
    expect(diffDocuments(before, after)).toEqual([
      { path: "action.headers.X-Token", before: "********", after: undefined, kind: "removed" },
      { path: "tags", before: ["x"], after: ["x", "y"], kind: "changed" },
      { path: "version", before: 1, after: 2, kind: "changed" },
    ]);
  });

  it("shows a creation as every field added and a deletion as every field removed", () => {
    expect(diffDocuments(null, { name: "a", enabled: true })).toEqual([
      { path: "enabled", before: undefined, after: true, kind: "added" },
      { path: "name", before: undefined, after: "a", kind: "added" },
    ]);
    expect(diffDocuments({ name: "a" }, null)).toEqual([{ path: "name", before: "a", after: undefined, kind: "removed" }]);
    expect(diffDocuments(null, null)).toEqual([]);
  });

  it("treats a null field becoming a value as a change", () => {
    expect(diffDocuments({ revoked_at: null }, { revoked_at: "2026-01-01T00:00:00Z" })).toEqual([
      { path: "revoked_at", before: null, after: "2026-01-01T00:00:00Z", kind: "changed" },
    ]);
  });
});

describe("showValue", () => {
  it("writes JSON, and a dash for a missing value", () => {
    expect(showValue(undefined)).toBe("—");
    expect(showValue({ a: [1] })).toBe('{"a":[1]}');
  });
});
