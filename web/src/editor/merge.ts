// The editor's conflict box: what the other writer changed and what you changed since the version the
// form was loaded from, field by field, and the task that keeps both ("save merged").
import type { TaskSpec } from "../api/types";
import { diffLeaves, type LeafChange } from "../lib/diff";

export type ChangedBy = "theirs" | "yours" | "both" | "both-same";
export type Side = "theirs" | "yours";

export interface MergeRow {
  /** Dotted path for display (`retry.max_attempts`, `action.headers.X-Token`). */
  path: string;
  segments: string[];
  base: unknown;
  theirs: unknown;
  yours: unknown;
  changedBy: ChangedBy;
}

type Doc = Record<string, unknown>;

function valueAt(doc: unknown, segments: string[]): unknown {
  let value: unknown = doc;
  for (const name of segments) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    value = (value as Doc)[name];
  }
  return value;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function isPrefix(prefix: string[], of: string[]): boolean {
  return prefix.length <= of.length && prefix.every((name, i) => of[i] === name);
}

// An action or schedule whose type changed on either side is one field: merging its parts would mix
// the fields of two kinds (a shell action with a URL).
function atomicParent(segments: string[], docs: unknown[]): string[] {
  const [top] = segments;
  if ((top === "action" || top === "schedule") && segments.length > 1) {
    const types = docs.map((doc) => valueAt(doc, [top, "type"]));
    if (types.some((type) => type !== types[0])) return [top];
  }
  return segments;
}

/** One row per field either side changed; a change inside a field the other side replaced whole is that field. */
export function conflictRows(base: TaskSpec, theirs: TaskSpec, yours: TaskSpec): MergeRow[] {
  const docs = [base, theirs, yours];
  const theirChanges = diffLeaves(base, theirs);
  const yourChanges = diffLeaves(base, yours);
  const all: LeafChange[] = [...theirChanges, ...yourChanges];
  const rowPaths: string[][] = [];
  for (const change of all) {
    let segments = atomicParent(change.segments, docs);
    const wider = all.map((other) => atomicParent(other.segments, docs)).find((other) => other.length < segments.length && isPrefix(other, segments));
    if (wider) segments = wider;
    if (!rowPaths.some((path) => same(path, segments))) rowPaths.push(segments);
  }
  const touches = (changes: LeafChange[], segments: string[]) => changes.some((c) => isPrefix(segments, c.segments) || isPrefix(c.segments, segments));
  return rowPaths
    .map((segments) => {
      const row = { path: segments.join("."), segments, base: valueAt(base, segments), theirs: valueAt(theirs, segments), yours: valueAt(yours, segments) };
      const byThem = touches(theirChanges, segments);
      const byYou = touches(yourChanges, segments);
      let changedBy: ChangedBy = byThem ? "theirs" : "yours";
      if (byThem && byYou) changedBy = same(row.theirs, row.yours) ? "both-same" : "both";
      return { ...row, changedBy };
    })
    .sort((a, b) => a.path.localeCompare(b.path));
}

function setAt(doc: Doc, segments: string[], value: unknown): void {
  const parents = segments.slice(0, -1);
  const last = segments[segments.length - 1];
  if (last === undefined) return;
  let node: Doc = doc;
  for (const name of parents) {
    const next = node[name];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[name] = {};
    node = node[name] as Doc;
  }
  if (value === undefined) delete node[last];
  else node[last] = structuredClone(value);
}

/**
 * Their version with your changes on top: a field only you changed takes your value, one only they
 * changed keeps theirs, and one you both changed takes the side chosen for it (yours unless told).
 */
export function mergeSpecs(theirs: TaskSpec, rows: MergeRow[], choices: Record<string, Side> = {}): TaskSpec {
  const merged = structuredClone(theirs) as unknown as Doc;
  for (const row of rows) {
    const side: Side = row.changedBy === "yours" ? "yours" : row.changedBy === "both" ? (choices[row.path] ?? "yours") : "theirs";
    if (side === "yours") setAt(merged, row.segments, row.yours);
  }
  return merged as unknown as TaskSpec;
}
