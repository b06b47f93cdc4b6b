import type { TagCount } from "../api/types";

/**
 * The tag picker's options: the server's suggestions, plus the tags already picked (a pick must stay
 * an option for its pill to show, whatever the box is searching now), and each suggestion's count.
 */
export function tagOptions(suggested: TagCount[], picked: string[]): { options: { value: string; label: string }[]; counts: Map<string, number> } {
  const counts = new Map(suggested.map((entry) => [entry.tag, entry.tasks]));
  const options = suggested.map((entry) => ({ value: entry.tag, label: entry.tag }));
  for (const tag of picked) if (!counts.has(tag)) options.push({ value: tag, label: tag });
  return { options, counts };
}
