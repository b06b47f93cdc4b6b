import { ActionIcon, Badge, Checkbox, Text } from "@mantine/core";
import { IconPlayerPause, IconPlayerPlay, IconRocket } from "@tabler/icons-react";
import { memo, type ComponentType } from "react";
import { Link } from "react-router";
import type { TaskAction } from "../api/queries";
import type { TaskListItem } from "../api/types";
import { statusLabel } from "../lib/format";
import { describeSchedule } from "../lib/schedule";
import { StatusBadge } from "./StatusBadge";
import { Time } from "./Time";

interface TaskCardsProps {
  tasks: TaskListItem[];
  /** "60 tasks", "3 tasks match" or "Loading tasks…". */
  caption: string;
  busy: boolean;
  /** What to say when the page holds no task. */
  emptyText: string | null;
  /** Checkboxes and run / pause / resume (operators). */
  selectable: boolean;
  selected: ReadonlySet<number>;
  allSelected: boolean;
  someSelected: boolean;
  onToggleAll: () => void;
  onToggle: (id: number) => void;
  onTag: (tag: string) => void;
  onAct: (task: TaskListItem, action: TaskAction) => Promise<void>;
  acting: { id: number; action: TaskAction } | null;
  /** The strip of recent runs with success rate and last duration (the table's cell, drawn the same). */
  health: ComponentType<{ task: TaskListItem }>;
}

/**
 * The task list on a phone: one card a task, every column of the table stacked inside it, so nothing
 * needs scrolling sideways. Plain elements styled by styles.css, as the table rows are (cheap to paint).
 */
export function TaskCards({ tasks, caption, busy, emptyText, selectable, selected, allSelected, someSelected, onToggleAll, ...card }: TaskCardsProps) {
  return (
    <div>
      <div className="cards-caption">
        {selectable && tasks.length > 0 && (
          <Checkbox
            label="Select all"
            aria-label="Select all tasks on this page"
            checked={allSelected}
            indeterminate={someSelected && !allSelected}
            onChange={onToggleAll}
          />
        )}
        <Text size="sm" c="dimmed" ml="auto" aria-live="polite">
          {caption}
        </Text>
      </div>
      <ul className="list-cards" aria-label="Tasks" aria-busy={busy} data-testid="task-cards">
        {tasks.map((task) => (
          <TaskCard
            key={task.id}
            task={task}
            selectable={selectable}
            selected={selected.has(task.id)}
            onToggle={card.onToggle}
            onTag={card.onTag}
            onAct={card.onAct}
            acting={card.acting?.id === task.id ? card.acting.action : null}
            health={card.health}
          />
        ))}
      </ul>
      {emptyText && (
        <Text c="dimmed" ta="center" py="md">
          {emptyText}
        </Text>
      )}
    </div>
  );
}

const TaskCard = memo(function TaskCard({
  task,
  selectable,
  selected,
  onToggle,
  onTag,
  onAct,
  acting,
  health: Health,
}: {
  task: TaskListItem;
  selectable: boolean;
  selected: boolean;
  onToggle: (id: number) => void;
  onTag: (tag: string) => void;
  onAct: (task: TaskListItem, action: TaskAction) => Promise<void>;
  acting: TaskAction | null;
  health: ComponentType<{ task: TaskListItem }>;
}) {
  const tags = task.tags ?? [];
  return (
    <li className="list-card" data-testid="task-card" data-task-id={task.id} data-selected={selected || undefined}>
      <div className="card-head">
        {selectable && <Checkbox aria-label={`Select ${task.name}`} checked={selected} onChange={() => onToggle(task.id)} mt={4} />}
        <div className="card-title">
          <Link to={`/tasks/${task.id}`} className="task-link">
            {task.name}
          </Link>
          {!task.enabled && (
            <Badge size="xs" color="gray" variant="outline" ml={6}>
              paused
            </Badge>
          )}
        </div>
        {selectable && (
          <div className="card-actions">
            <ActionIcon variant="light" size="lg" aria-label={`Run ${task.name} now`} title="Run now" loading={acting === "run"} onClick={() => void onAct(task, "run")}>
              <IconRocket size={18} aria-hidden />
            </ActionIcon>
            {task.enabled ? (
              <ActionIcon variant="light" size="lg" aria-label={`Pause ${task.name}`} title="Pause" loading={acting === "pause"} onClick={() => void onAct(task, "pause")}>
                <IconPlayerPause size={18} aria-hidden />
              </ActionIcon>
            ) : (
              <ActionIcon variant="light" size="lg" aria-label={`Resume ${task.name}`} title="Resume" loading={acting === "resume"} onClick={() => void onAct(task, "resume")}>
                <IconPlayerPlay size={18} aria-hidden />
              </ActionIcon>
            )}
          </div>
        )}
      </div>
      <dl className="card-facts">
        <dt>Schedule</dt>
        <dd>{task.schedule_description ?? describeSchedule(task.schedule)}</dd>
        <dt>Next run</dt>
        <dd data-testid="card-next-run">{task.enabled && task.next_run_at ? <Time iso={task.next_run_at} relative /> : <span className="dimmed">—</span>}</dd>
        <dt>Last run</dt>
        <dd>
          {task.last_run ? (
            <span className="inline-row">
              <Link to={`/runs/${task.last_run.id}`} aria-label={`Last run: ${statusLabel(task.last_run.status)}`}>
                <StatusBadge status={task.last_run.status} />
              </Link>
              <span className="dimmed">
                <Time iso={task.last_run.at} relative />
              </span>
            </span>
          ) : (
            <span className="dimmed">never</span>
          )}
        </dd>
        <dt>Recent runs</dt>
        <dd>
          <Health task={task} />
        </dd>
      </dl>
      {tags.length > 0 && (
        <div className="inline-row tags card-tags">
          {tags.map((tag) => (
            <Badge
              key={tag}
              component="button"
              type="button"
              size="sm"
              variant="light"
              color="gray"
              tt="none"
              className="tag-button"
              title={`Show only tasks tagged ${tag}`}
              aria-label={`Filter by tag ${tag}`}
              onClick={() => onTag(tag)}
            >
              {tag}
            </Badge>
          ))}
        </div>
      )}
    </li>
  );
});
