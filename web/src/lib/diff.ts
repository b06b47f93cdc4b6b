// What changed between two JSON documents: the fields whose values differ, by path. Used by the
// audit log (what an entry changed) and the editor's conflict box (theirs against yours).

export interface FieldChange {
  /** Dotted path of the field: `action.headers.X-Token`, `tags`. */
  path: string;
  before: unknown;
  after: unknown;
  kind: "added" | "removed" | "changed";
}

/** A change with its path as segments, for code that writes the change back (names may hold dots). */
export interface LeafChange extends Omit<FieldChange, "path"> {
  segments: string[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The changed leaves of two JSON documents (either may be null: a creation or a deletion). Objects are
 * compared field by field; arrays and other values as wholes, which reads better for tags and commands.
 */
export function diffDocuments(before: unknown, after: unknown): FieldChange[] {
  return diffLeaves(before, after).map(({ segments, ...change }) => ({ path: segments.join("."), ...change }));
}

/** `diffDocuments` with each path as its segments. */
export function diffLeaves(before: unknown, after: unknown): LeafChange[] {
  return diffValues(before ?? {}, after ?? {}, []);
}

function diffValues(before: unknown, after: unknown, segments: string[]): LeafChange[] {
  if (isObject(before) && isObject(after)) {
    const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return names.flatMap((name) => {
      const sub = [...segments, name];
      if (!(name in before)) return [{ segments: sub, before: undefined, after: after[name], kind: "added" as const }];
      if (!(name in after)) return [{ segments: sub, before: before[name], after: undefined, kind: "removed" as const }];
      return diffValues(before[name], after[name], sub);
    });
  }
  return same(before, after) ? [] : [{ segments, before, after, kind: "changed" }];
}

/** A value as one short line of JSON (or a dash for none). */
export function showValue(value: unknown): string {
  return value === undefined ? "—" : JSON.stringify(value);
}
