import { ScrollX } from "../components/ScrollX";
import {
  Badge,
  Button,
  Group,
  Pagination,
  Paper,
  NativeSelect,
  Stack,
  Table,
  Text,
  TextInput,
} from "@mantine/core";
import { RowAction, RowCheckbox } from "../components/RowControls";
import { useDebouncedCallback } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import {
  IconArrowDown,
  IconArrowUp,
  IconArrowsSort,
  IconPlayerPause,
  IconPlayerPlay,
  IconPlus,
  IconRocket,
  IconSearch,
  IconTrash,
} from "@tabler/icons-react";
import { useQueryClient } from "@tanstack/react-query";
import { memo, useCallback, useEffect, useMemo, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { keys, performBulkAction, performTaskAction, useTaskList, type TaskAction, type TaskListParams, type TaskSort } from "../api/queries";
import { RUN_STATUSES, type RecentRun, type RunStatus, type TaskListItem } from "../api/types";
import { usePermissions } from "../auth/AuthProvider";
import { CollapsibleFilters } from "../components/CollapsibleFilters";
import { confirm } from "../components/confirm";
import { FirstTaskPrompt } from "../components/EmptyState";
import { PageTitle } from "../components/PageTitle";
import { errorMessage, QueryError } from "../components/QueryError";
import { StatusBadge } from "../components/StatusBadge";
import { TagPicker } from "../components/TagPicker";
import { TaskCards } from "../components/TaskCards";
import { Time } from "../components/Time";
import { bulkQuestion, bulkRequest, bulkSummary, selectionSize, type BulkSelection } from "../lib/bulk";
import { formatDuration, STATUS_COLORS, statusLabel } from "../lib/format";
import { describeSchedule } from "../lib/schedule";
import { usePhone } from "../lib/usePhone";
import { Td, Tr } from "../components/TableCells";

const PAGE_SIZES = ["25", "50", "100", "200"];
const SORTS: { value: TaskSort; label: string }[] = [
  { value: "name", label: "Name A–Z" },
  { value: "-name", label: "Name Z–A" },
  { value: "next_run_at", label: "Next run, soonest first" },
  { value: "-next_run_at", label: "Next run, latest first" },
  { value: "-created_at", label: "Newest first" },
  { value: "created_at", label: "Oldest first" },
  { value: "-updated_at", label: "Recently changed" },
  { value: "-priority", label: "Priority, highest first" },
];

// React passes unknown lower-case attributes through; TypeScript's JSX types don't know this one.
const ELEMENT_TIMING = { elementtiming: "task-name" } as Record<string, string>;

function useListParams() {
  const [search, setSearch] = useSearchParams();
  const size = Number(search.get("size")) || 50;
  const page = Math.max(1, Number(search.get("page")) || 1);
  const enabledParam = search.get("enabled");
  const statusParam = search.get("last_status");
  const params: TaskListParams = {
    limit: size,
    offset: (page - 1) * size,
    q: search.get("q") ?? undefined,
    tags: search.getAll("tag").length ? search.getAll("tag") : undefined,
    enabled: enabledParam === "true" || enabledParam === "false" ? enabledParam : undefined,
    last_status: RUN_STATUSES.includes(statusParam as RunStatus) ? (statusParam as RunStatus) : undefined,
    sort: (search.get("sort") as TaskSort | null) ?? "name",
  };
  const update = (changes: Record<string, string | string[] | null | undefined>, resetPage = true) => {
    setSearch(
      (previous) => {
        const next = new URLSearchParams(previous);
        for (const [name, value] of Object.entries(changes)) {
          if (Array.isArray(value)) {
            next.delete(name);
            for (const item of value) next.append(name, item);
          } else if (value === null || value === undefined || value === "") next.delete(name);
          else next.set(name, value);
        }
        if (resetPage && !("page" in changes)) next.delete("page");
        return next;
      },
      { replace: true },
    );
  };
  return { params, page, size, update };
}

const FIRST_ROWS = 20;

/**
 * How many rows to render: a screenful first, the rest right after that is painted. The first paint of a
 * long page then costs what one screen costs.
 */
function useProgressive(count: number): number {
  const [all, setAll] = useState(false);
  useEffect(() => {
    if (all || count <= FIRST_ROWS) return;
    // Two frames: the first lets the browser paint what is there.
    let second = 0;
    const first = requestAnimationFrame(() => {
      second = requestAnimationFrame(() => setAll(true));
    });
    return () => {
      cancelAnimationFrame(first);
      cancelAnimationFrame(second);
    };
  }, [all, count]);
  return all ? count : Math.min(count, FIRST_ROWS);
}

function SortHeader({ label, field, sort, onSort }: { label: string; field: string; sort: string | undefined; onSort: (s: string) => void }) {
  const ascending = sort === field;
  const descending = sort === `-${field}`;
  const Icon = ascending ? IconArrowUp : descending ? IconArrowDown : IconArrowsSort;
  return (
    <Table.Th aria-sort={ascending ? "ascending" : descending ? "descending" : "none"}>
      <button type="button" className="sort-button" onClick={() => onSort(ascending ? `-${field}` : field)}>
        {label}
        <Icon size={14} aria-hidden />
      </button>
    </Table.Th>
  );
}

export function TasksPage() {
  const { params, page, size, update } = useListParams();
  const { canOperate, canAdmin } = usePermissions();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [searchText, setSearchText] = useState(params.q ?? "");
  // Typing updates the URL (and so the query) once the user pauses.
  const pushSearch = useDebouncedCallback((value: string) => update({ q: value.trim() }), 250);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [busy, setBusy] = useState<TaskAction | null>(null);
  const phone = usePhone();

  const query = useTaskList(params);
  const items = useMemo(() => query.data?.items ?? [], [query.data]);
  const shown = useProgressive(items.length);
  const total = query.data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / size));
  const filtered = Boolean(params.q || params.tags || params.enabled || params.last_status);
  // "Select all N matching": the bulk action then applies, server-side, to every task the filter
  // matches, not only this page's. A change of filter, or of the ticks, ends it.
  const filterKey = JSON.stringify([params.q, params.tags, params.enabled, params.last_status]);
  const [matchingFor, setMatchingFor] = useState<string | null>(null);
  const allMatching = matchingFor === filterKey;

  const toggle = useCallback(
    (id: number) => {
      setMatchingFor(null);
      setSelected((previous) => {
        const next = new Set(previous);
        if (next.has(id)) next.delete(id);
        else next.add(id);
        return next;
      });
    },
    [],
  );
  const open = useCallback((id: number) => void navigate(`/tasks/${id}`), [navigate]);
  const filterByTag = useCallback(
    (tag: string) => {
      if (!params.tags?.includes(tag)) update({ tag: [...(params.tags ?? []), tag] });
    },
    [update, params.tags],
  );
  // Run now / pause / resume from the row itself; the row shows its own action pending.
  const [acting, setActing] = useState<{ id: number; action: TaskAction } | null>(null);
  const actOn = useCallback(
    async (task: TaskListItem, action: TaskAction) => {
      setActing({ id: task.id, action });
      try {
        await performTaskAction(task.id, action);
        const done = action === "run" ? "Run queued for" : action === "pause" ? "Paused" : "Resumed";
        notifications.show({ color: "teal", message: `${done} “${task.name}”.` });
      } catch (error) {
        notifications.show({ color: "red", title: "That did not work", message: errorMessage(error) });
      } finally {
        setActing(null);
        void client.invalidateQueries({ queryKey: keys.tasks });
        void client.invalidateQueries({ queryKey: keys.task(task.id) });
        if (action === "run") void client.invalidateQueries({ queryKey: keys.runs });
      }
    },
    [client],
  );
  // Only what is on this page counts as selected (rows deleted or paged away drop out by themselves).
  const selectedIds = items.filter((task) => selected.has(task.id)).map((task) => task.id);
  const allSelected = items.length > 0 && selectedIds.length === items.length;
  const someSelected = selectedIds.length > 0;

  const bulk = async (action: TaskAction) => {
    if (!selectedIds.length) return;
    const selection: BulkSelection = allMatching ? { matching: total } : { ids: selectedIds };
    const count = selectionSize(selection);
    // Beyond the page, or for good, say how many first.
    if (action === "delete" || allMatching) {
      const names = items.filter((task) => selected.has(task.id)).map((task) => task.name);
      const ok = await confirm({
        title: bulkQuestion(action, count),
        message: (
          <Stack gap={4}>
            {action === "delete" && <Text size="sm">Their run history is deleted too. This cannot be undone.</Text>}
            <Text size="sm" c="dimmed" lineClamp={4}>
              {allMatching ? `Every task matching the current filters, not only the ${items.length} on this page.` : names.join(", ")}
            </Text>
          </Stack>
        ),
        confirmLabel: bulkQuestion(action, count).replace(/\?$/, ""),
        danger: action === "delete",
      });
      if (!ok) return;
    }
    setBusy(action);
    try {
      const result = await performBulkAction(bulkRequest(action, selection, params));
      notifications.show({ color: "teal", message: bulkSummary(result) });
      setSelected(new Set());
      setMatchingFor(null);
    } catch (error) {
      notifications.show({ color: "red", title: "That did not work", message: errorMessage(error) });
    } finally {
      setBusy(null);
      void client.invalidateQueries({ queryKey: keys.tasks });
      void client.invalidateQueries({ queryKey: keys.stats });
      if (action === "run") void client.invalidateQueries({ queryKey: keys.runs });
    }
  };

  const showFirstStep = query.isSuccess && total === 0 && !filtered;

  return (
    <Stack gap="md">
      <PageTitle title="Tasks">
        {canAdmin && (
          <Button component={Link} to="/tasks/new" leftSection={<IconPlus size={16} aria-hidden />}>
            New task
          </Button>
        )}
      </PageTitle>

      <CollapsibleFilters label="Filter tasks" align="flex-end" active={[params.q, params.tags?.length, params.enabled, params.last_status].filter(Boolean).length}>
        <TextInput
          label="Search"
          placeholder="Name or description"
          leftSection={<IconSearch size={16} aria-hidden />}
          value={searchText}
          onChange={(event) => {
            setSearchText(event.currentTarget.value);
            pushSearch(event.currentTarget.value);
          }}
          w={240}
        />
        <TagPicker value={params.tags ?? []} onChange={(tags) => update({ tag: tags })} />
        <NativeSelect
          label="State"
          data={[
            { value: "all", label: "All" },
            { value: "true", label: "Enabled" },
            { value: "false", label: "Paused" },
          ]}
          value={params.enabled ?? "all"}
          onChange={(event) => update({ enabled: event.currentTarget.value === "all" ? null : event.currentTarget.value })}
          w={120}
        />
        <NativeSelect
          label="Last run"
          data={[{ value: "any", label: "Any" }, ...RUN_STATUSES.map((status) => ({ value: status, label: statusLabel(status) }))]}
          value={params.last_status ?? "any"}
          onChange={(event) => update({ last_status: event.currentTarget.value === "any" ? null : event.currentTarget.value })}
          w={140}
        />
        <NativeSelect
          label="Sort by"
          data={SORTS}
          value={params.sort ?? "name"}
          onChange={(event) => update({ sort: event.currentTarget.value })}
          w={220}
        />
      </CollapsibleFilters>

      {canOperate && someSelected && (
        <Paper withBorder p="xs" role="region" aria-label="Bulk actions">
          <Group gap="xs">
            <Text size="sm" fw={500} mr="sm" aria-live="polite">
              {allMatching ? `All ${total.toLocaleString()} matching tasks selected` : `${selectedIds.length} selected`}
            </Text>
            <Button size="xs" variant="light" leftSection={<IconPlayerPause size={14} aria-hidden />} loading={busy === "pause"} onClick={() => void bulk("pause")}>
              Pause
            </Button>
            <Button size="xs" variant="light" leftSection={<IconPlayerPlay size={14} aria-hidden />} loading={busy === "resume"} onClick={() => void bulk("resume")}>
              Resume
            </Button>
            <Button size="xs" variant="light" leftSection={<IconRocket size={14} aria-hidden />} loading={busy === "run"} onClick={() => void bulk("run")}>
              Run now
            </Button>
            {canAdmin && (
              <Button size="xs" variant="light" color="red" leftSection={<IconTrash size={14} aria-hidden />} loading={busy === "delete"} onClick={() => void bulk("delete")}>
                Delete…
              </Button>
            )}
            {allSelected && total > items.length && (
              <Button size="xs" variant="subtle" onClick={() => setMatchingFor(allMatching ? null : filterKey)}>
                {allMatching ? `Select only the ${items.length} on this page` : `Select all ${total.toLocaleString()} matching tasks`}
              </Button>
            )}
          </Group>
        </Paper>
      )}

      {query.isError && <QueryError error={query.error} retry={() => void query.refetch()} />}

      {showFirstStep ? (
        <FirstTaskPrompt />
      ) : phone ? (
        <TaskCards
          tasks={items.slice(0, shown)}
          caption={query.isPending ? "Loading tasks…" : `${total.toLocaleString()} task${total === 1 ? "" : "s"}${filtered ? " match" : ""}`}
          busy={query.isFetching}
          emptyText={query.isSuccess && items.length === 0 ? "No task matches these filters." : null}
          selectable={canOperate}
          selected={selected}
          allSelected={allSelected}
          someSelected={someSelected}
          onToggleAll={() => {
            setMatchingFor(null);
            setSelected(allSelected ? new Set() : new Set(items.map((task) => task.id)));
          }}
          onToggle={toggle}
          onTag={filterByTag}
          onAct={actOn}
          acting={acting}
          health={RunStrip}
        />
      ) : (
        <ScrollX minWidth={1000}>
          <Table striped highlightOnHover verticalSpacing="xs" aria-busy={query.isFetching} data-testid="task-table">
            <Table.Caption>
              {query.isPending ? "Loading tasks…" : `${total.toLocaleString()} task${total === 1 ? "" : "s"}${filtered ? " match" : ""}`}
            </Table.Caption>
            <Table.Thead>
              <Table.Tr>
                {canOperate && (
                  <Table.Th w={40}>
                    <RowCheckbox
                      label="Select all tasks on this page"
                      checked={allSelected}
                      indeterminate={someSelected && !allSelected}
                      onChange={() => {
                        setMatchingFor(null);
                        setSelected(allSelected ? new Set() : new Set(items.map((task) => task.id)));
                      }}
                    />
                  </Table.Th>
                )}
                <SortHeader label="Name" field="name" sort={params.sort} onSort={(sort) => update({ sort })} />
                <Table.Th>Schedule</Table.Th>
                <SortHeader label="Next run" field="next_run_at" sort={params.sort} onSort={(sort) => update({ sort })} />
                <Table.Th>Last run</Table.Th>
                <Table.Th>Recent runs</Table.Th>
                {canOperate && <Table.Th>Actions</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.slice(0, shown).map((task) => (
                <TaskRow
                  key={task.id}
                  task={task}
                  selectable={canOperate}
                  selected={selected.has(task.id)}
                  onToggle={toggle}
                  onOpen={open}
                  onTag={filterByTag}
                  onAct={actOn}
                  acting={acting?.id === task.id ? acting.action : null}
                />
              ))}
              {query.isSuccess && items.length === 0 && (
                <Table.Tr>
                  <Table.Td colSpan={canOperate ? 7 : 5}>
                    <Text c="dimmed" ta="center" py="md">
                      No task matches these filters.
                    </Text>
                  </Table.Td>
                </Table.Tr>
              )}
            </Table.Tbody>
          </Table>
        </ScrollX>
      )}

      {!showFirstStep && total > 0 && (
        <Group justify="space-between">
          <Pagination
            total={pages}
            value={Math.min(page, pages)}
            onChange={(value) => update({ page: String(value) }, false)}
            getControlProps={(control) => ({ "aria-label": `${control} page` })}
            getItemProps={(value) => ({ "aria-label": `Page ${value}` })}
          />
          <NativeSelect
            aria-label="Tasks per page"
            data={PAGE_SIZES.map((value) => ({ value, label: `${value} per page` }))}
            value={String(size)}
            onChange={(event) => update({ size: event.currentTarget.value })}
            w={150}
          />
        </Group>
      )}
    </Stack>
  );
}

/** One row; memoised so that selecting a row or a live refresh re-renders only the rows that changed. */
/** The latest runs as a strip of squares, oldest on the left, with the success rate and the last duration. */
function RunStrip({ task }: { task: TaskListItem }) {
  const runs: RecentRun[] = task.recent_runs ?? [];
  if (!runs.length) return <span className="dimmed">no runs yet</span>;
  const rate = task.success_rate;
  const oldestFirst = [...runs].reverse();
  const summary = oldestFirst.map((run) => statusLabel(run.status)).join(", ");
  return (
    <div className="inline-row health">
      <Link to={`/tasks/${task.id}`} className="run-strip" aria-label={`Last ${runs.length} runs, oldest first: ${summary}`} data-testid="run-strip">
        {oldestFirst.map((run) => (
          <span
            key={run.id}
            className="run-cell"
            data-status={run.status}
            title={`#${run.id} ${statusLabel(run.status)}`}
            style={{ background: `var(--mantine-color-${STATUS_COLORS[run.status] ?? "gray"}-6)` }}
          />
        ))}
      </Link>
      <span data-testid="success-rate" title={`Succeeded, of the last ${runs.length} runs that finished with an outcome`}>
        {rate === null || rate === undefined ? "—" : `${Math.round(rate * 100)}%`}
      </span>
      <span className="dimmed" data-testid="last-duration" title="How long the latest finished run took">
        {formatDuration(task.last_duration_ms)}
      </span>
    </div>
  );
}

const TaskRow = memo(function TaskRow({
  task,
  selectable,
  selected,
  onToggle,
  onOpen,
  onTag,
  onAct,
  acting,
}: {
  task: TaskListItem;
  selectable: boolean;
  selected: boolean;
  onToggle: (id: number) => void;
  onOpen: (id: number) => void;
  onTag: (tag: string) => void;
  onAct: (task: TaskListItem, action: TaskAction) => Promise<void>;
  acting: TaskAction | null;
}) {
  // Plain elements (styled by styles.css) for layout inside the cells: a page of rows is ~1,000 nodes,
  // and library wrappers for every flex box would double the work of the first paint.
  const tags = task.tags ?? [];
  return (
    <Tr
      striped
      hover
      data-testid="task-row"
      data-task-id={task.id}
      data-selected={selected || undefined}
      className="clickable-row"
      onClick={(event) => {
        // Row clicks open the task, unless the click was on a control inside the row.
        if ((event.target as HTMLElement).closest("a,button,input,label")) return;
        onOpen(task.id);
      }}
    >
      {selectable && (
        <Td>
          <RowCheckbox label={`Select ${task.name}`} checked={selected} onChange={() => onToggle(task.id)} />
        </Td>
      )}
      <Td>
        <div className="inline-row">
          {/* elementtiming: the browser reports when the first names are painted (measured in the e2e test). */}
          <Link to={`/tasks/${task.id}`} className="task-link" {...ELEMENT_TIMING}>
            {task.name}
          </Link>
          {!task.enabled && (
            <Badge size="xs" color="gray" variant="outline">
              paused
            </Badge>
          )}
        </div>
        {tags.length > 0 && (
          <div className="inline-row tags">
            {tags.slice(0, 5).map((tag) => (
              <Badge
                key={tag}
                component="button"
                type="button"
                size="xs"
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
      </Td>
      <Td>{task.schedule_description ?? describeSchedule(task.schedule)}</Td>
      <Td>{task.enabled && task.next_run_at ? <Time iso={task.next_run_at} relative /> : <span className="dimmed">—</span>}</Td>
      <Td>
        {task.last_run ? (
          <div className="inline-row">
            <Link to={`/runs/${task.last_run.id}`} aria-label={`Last run: ${statusLabel(task.last_run.status)}`}>
              <StatusBadge status={task.last_run.status} />
            </Link>
            <span className="dimmed">
              <Time iso={task.last_run.at} relative />
            </span>
          </div>
        ) : (
          <span className="dimmed">never</span>
        )}
      </Td>
      <Td>
        <RunStrip task={task} />
      </Td>
      {selectable && (
        <Td>
          <div className="inline-row">
            <RowAction label={`Run ${task.name} now`} title="Run now" loading={acting === "run"} onClick={() => void onAct(task, "run")}>
              <IconRocket size={16} aria-hidden />
            </RowAction>
            {task.enabled ? (
              <RowAction label={`Pause ${task.name}`} title="Pause" loading={acting === "pause"} onClick={() => void onAct(task, "pause")}>
                <IconPlayerPause size={16} aria-hidden />
              </RowAction>
            ) : (
              <RowAction label={`Resume ${task.name}`} title="Resume" loading={acting === "resume"} onClick={() => void onAct(task, "resume")}>
                <IconPlayerPlay size={16} aria-hidden />
              </RowAction>
            )}
          </div>
        </Td>
      )}
    </Tr>
  );
});
