import { Anchor, Checkbox, Text } from "@mantine/core";
import { Link } from "react-router";
import type { Run } from "../api/types";
import { formatDuration } from "../lib/format";
import { attemptLabel, errorSnippet } from "../lib/runs";
import { RowActions } from "./RunRowActions";
import { StatusBadge } from "./StatusBadge";
import { Time } from "./Time";

interface RunCardsProps {
  runs: Run[];
  /** "1,278 runs" or "Loading runs…". */
  caption: string;
  busy: boolean;
  emptyText: string | null;
  showTask: boolean;
  /** Checkboxes for bulk actions (operators); absent, none. */
  selected?: ReadonlySet<number>;
  onToggle?: (ids: number[], on: boolean) => void;
  rowActions: boolean;
}

/**
 * Run history on a phone: a card a run holding what the table's row holds (status, times, duration,
 * attempt, the error's first line, retry / cancel), stacked so that nothing scrolls sideways.
 */
export function RunCards({ runs, caption, busy, emptyText, showTask, selected, onToggle, rowActions }: RunCardsProps) {
  const ids = runs.map((run) => run.id);
  const selectable = selected !== undefined && onToggle !== undefined;
  const all = selectable && ids.length > 0 && ids.every((id) => selected.has(id));
  const some = selectable && ids.some((id) => selected.has(id));
  return (
    <div>
      <div className="cards-caption">
        {selectable && ids.length > 0 && (
          <Checkbox
            label="Select all"
            aria-label="Select the runs on this page"
            checked={all}
            indeterminate={some && !all}
            onChange={(event) => onToggle(ids, event.currentTarget.checked)}
          />
        )}
        <Text size="sm" c="dimmed" ml="auto">
          {caption}
        </Text>
      </div>
      <ul className="list-cards" aria-label="Runs" aria-busy={busy} data-testid="run-cards">
        {runs.map((run) => (
          <li key={run.id} className="list-card" data-testid="run-card" data-run-id={run.id} data-status={run.status} data-selected={selected?.has(run.id) || undefined}>
            <div className="card-head">
              {selectable && <Checkbox aria-label={`Select run #${run.id}`} checked={selected.has(run.id)} onChange={(event) => onToggle([run.id], event.currentTarget.checked)} mt={2} />}
              <div className="card-title">
                <Anchor component={Link} to={`/runs/${run.id}`} fw={500}>
                  #{run.id}
                </Anchor>
                {showTask && (
                  <>
                    {" · "}
                    <Anchor component={Link} to={`/tasks/${run.task_id}`}>
                      {run.task_name}
                    </Anchor>
                  </>
                )}
              </div>
              <span className="inline-row">
                <StatusBadge status={run.status} />
              </span>
            </div>
            {run.reason && (
              <Text size="xs" c="dimmed" mt={4} className="card-wrap">
                {run.reason}
              </Text>
            )}
            <dl className="card-facts">
              <dt>Trigger</dt>
              <dd>{run.trigger}</dd>
              <dt>Scheduled for</dt>
              <dd>
                <Time iso={run.scheduled_for} />
              </dd>
              <dt>Started</dt>
              <dd>
                <Time iso={run.started_at} />
              </dd>
              <dt>Duration</dt>
              <dd>{formatDuration(run.duration_ms)}</dd>
              <dt>Attempt</dt>
              <dd data-testid="run-attempt">{attemptLabel(run.attempt, run.max_attempts)}</dd>
              {run.error && (
                <>
                  <dt>Error</dt>
                  <dd data-testid="run-error-snippet">
                    <Text size="xs" ff="monospace" lineClamp={3} title={run.error} className="card-wrap">
                      {errorSnippet(run.error)}
                    </Text>
                  </dd>
                </>
              )}
            </dl>
            {rowActions && (
              <div className="card-footer">
                <RowActions run={run} />
              </div>
            )}
          </li>
        ))}
      </ul>
      {emptyText && (
        <Text c="dimmed" ta="center" py="sm">
          {emptyText}
        </Text>
      )}
    </div>
  );
}
