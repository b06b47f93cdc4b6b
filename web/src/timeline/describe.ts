// What the timeline says of one run (its tooltip): outcome and attempt, start, queue wait, duration.
import type { RunSpans } from "../api/types";
import { formatAge } from "../lib/dashboard";
import { formatDuration, statusLabel } from "../lib/format";
import { attemptLabel } from "../lib/runs";
import { waitAndDuration } from "./layout";

const full = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });

/** Run `i` in words: "failed, attempt 2 of 3", when it could start, when it started, how long it
 * waited in the queue and how long it ran (or has been running, or waiting). */
export function describeRun(spans: RunSpans, i: number, now: number, format: Intl.DateTimeFormat = full): { id: number; task: string; lines: string[] } {
  const task = spans.tasks.find((t) => t.id === spans.task_id[i]);
  const { wait, duration } = waitAndDuration(spans, i, now);
  const status = spans.status[i] ?? "queued";
  const lines = [`${statusLabel(status)}, attempt ${attemptLabel(spans.attempt[i] ?? 1, task?.max_attempts)}`];
  lines.push(`ready ${format.format(new Date(spans.ready[i] ?? now))}`);
  const started = spans.started[i];
  if (started !== null && started !== undefined) lines.push(`started ${format.format(new Date(started))}`);
  if (wait !== null) lines.push(`waited in the queue ${formatAge(wait / 1000)}`);
  else if (status === "queued") lines.push(`waiting for ${formatAge((now - (spans.ready[i] ?? now)) / 1000)}`);
  if (duration !== null) lines.push(`${status === "running" ? "running for" : "ran"} ${formatDuration(duration)}`);
  return { id: spans.id[i] ?? 0, task: task?.name ?? `task ${spans.task_id[i]}`, lines };
}
