import { ScrollX } from "./ScrollX";
import { Anchor, Group, Pagination, Select, Table, Text, VisuallyHidden } from "@mantine/core";
import { RowCheckbox } from "./RowControls";
import { useState } from "react";
import { Link } from "react-router";
import { useRunPage } from "../api/runs";
import type { RunStatus } from "../api/types";
import { formatDuration } from "../lib/format";
import { attemptLabel, DEFAULT_PAGE_SIZE, errorSnippet, PAGE_SIZES, runCount, type RunFilter } from "../lib/runs";
import { usePhone } from "../lib/usePhone";
import { Td, Tr } from "./TableCells";
import { QueryError } from "./QueryError";
import { RunCards } from "./RunCards";
import { RowActions } from "./RunRowActions";
import { StatusBadge } from "./StatusBadge";
import { Time } from "./Time";

// React passes unknown lower-case attributes through; TypeScript's JSX types don't know this one.
const RUN_TIMING = { elementtiming: "run-row" } as Record<string, string>;

interface RunTableProps {
  /** The runs of one task (the task page); the runs page passes a whole `filter` instead. */
  taskId?: number;
  status?: RunStatus;
  filter?: RunFilter;
  showTask?: boolean;
  /** Controlled paging (the runs page keeps it in the URL); otherwise the table keeps its own. */
  page?: number;
  pageSize?: number;
  onPageChange?: (page: number) => void;
  onPageSizeChange?: (size: number) => void;
  /** Stop following live updates: the rows stay as they are until resumed. */
  paused?: boolean;
  /** Checkboxes for bulk actions (operators). */
  selected?: ReadonlySet<number>;
  onSelectedChange?: (next: Set<number>) => void;
  /** Retry and cancel buttons on rows (operators). */
  rowActions?: boolean;
}

/** Run history, newest first, paged on the server. */
export function RunTable({
  taskId,
  status,
  filter,
  showTask = false,
  page: pageProp,
  pageSize: sizeProp,
  onPageChange,
  onPageSizeChange,
  paused = false,
  selected,
  onSelectedChange,
  rowActions = false,
}: RunTableProps) {
  const [ownPage, setOwnPage] = useState(1);
  const page = pageProp ?? ownPage;
  const size = sizeProp ?? DEFAULT_PAGE_SIZE;
  const where: RunFilter = filter ?? { task_id: taskId, status: status ? [status] : [], trigger: [] };
  const query = useRunPage({ filter: where, limit: size, offset: (page - 1) * size }, paused);
  const phone = usePhone();
  if (query.isError) return <QueryError error={query.error} retry={() => void query.refetch()} />;
  const items = query.data?.items ?? [];
  const total = query.data?.total ?? 0;
  const selectable = selected !== undefined && onSelectedChange !== undefined;
  const columns = 8 + (showTask ? 1 : 0) + (selectable ? 1 : 0) + (rowActions ? 1 : 0);
  const pageIds = items.map((run) => run.id);
  const allOnPage = selectable && pageIds.length > 0 && pageIds.every((id) => selected.has(id));
  const someOnPage = selectable && pageIds.some((id) => selected.has(id));
  const setPage = (next: number) => (onPageChange ? onPageChange(next) : setOwnPage(next));
  const toggle = (ids: number[], on: boolean) => {
    if (!selectable) return;
    const next = new Set(selected);
    for (const id of ids) {
      if (on) next.add(id);
      else next.delete(id);
    }
    onSelectedChange(next);
  };
  return (
    <>
      {phone ? (
        <RunCards
          runs={items}
          caption={query.isPending ? "Loading runs…" : runCount(query.data)}
          busy={query.isFetching}
          emptyText={query.isSuccess && items.length === 0 ? (filter ? "No runs match." : "No runs yet.") : null}
          showTask={showTask}
          selected={selectable ? selected : undefined}
          onToggle={selectable ? toggle : undefined}
          rowActions={rowActions}
        />
      ) : (
        /* Wide enough that no column squeezes another (badges and errors stay readable); a screen too
           narrow for it but wider than a phone scrolls sideways. */
        <ScrollX minWidth={900 + (showTask ? 140 : 0) + (selectable ? 40 : 0) + (rowActions ? 90 : 0)}>
          <Table striped highlightOnHover verticalSpacing={6} data-testid="run-table" aria-busy={query.isFetching}>
            <Table.Caption>{query.isPending ? "Loading runs…" : runCount(query.data)}</Table.Caption>
            <Table.Thead>
              <Table.Tr>
                {selectable && (
                  <Table.Th w={36}>
                    <RowCheckbox
                      label="Select the runs on this page"
                      checked={allOnPage}
                      indeterminate={someOnPage && !allOnPage}
                      onChange={(event) => toggle(pageIds, event.currentTarget.checked)}
                    />
                  </Table.Th>
                )}
                <Table.Th>Run</Table.Th>
                {showTask && <Table.Th>Task</Table.Th>}
                <Table.Th>Status</Table.Th>
                <Table.Th>Trigger</Table.Th>
                <Table.Th>Scheduled for</Table.Th>
                <Table.Th>Started</Table.Th>
                <Table.Th>Duration</Table.Th>
                <Table.Th>Attempt</Table.Th>
                <Table.Th>Error</Table.Th>
                {rowActions && (
                  <Table.Th>
                    <VisuallyHidden>Actions</VisuallyHidden>
                  </Table.Th>
                )}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((run) => (
                <Tr striped hover key={run.id} data-testid="run-row" data-run-id={run.id} data-status={run.status}>
                  {selectable && (
                    <Td>
                      <RowCheckbox label={`Select run #${run.id}`} checked={selected.has(run.id)} onChange={(event) => toggle([run.id], event.currentTarget.checked)} />
                    </Td>
                  )}
                  {/* elementtiming: the browser reports when the first runs are painted (bench/first_paint.py); on
                      the cell, since Chromium credits an inline link's text to its block. */}
                  <Td {...RUN_TIMING}>
                    <Anchor component={Link} to={`/runs/${run.id}`}>
                      #{run.id}
                    </Anchor>
                  </Td>
                  {showTask && (
                    <Td>
                      <Anchor component={Link} to={`/tasks/${run.task_id}`}>
                        {run.task_name}
                      </Anchor>
                    </Td>
                  )}
                  <Td style={{ minWidth: 120 }}>
                    <StatusBadge status={run.status} />
                    {run.reason && (
                      <Text size="xs" c="dimmed" lineClamp={1} title={run.reason}>
                        {run.reason}
                      </Text>
                    )}
                  </Td>
                  <Td>{run.trigger}</Td>
                  <Td>
                    <Time iso={run.scheduled_for} />
                  </Td>
                  <Td>
                    <Time iso={run.started_at} />
                  </Td>
                  <Td>{formatDuration(run.duration_ms)}</Td>
                  <Td style={{ whiteSpace: "nowrap" }} data-testid="run-attempt">
                    {attemptLabel(run.attempt, run.max_attempts)}
                  </Td>
                  <Td style={{ maxWidth: 300, minWidth: 160 }} data-testid="run-error-snippet">
                    {run.error && (
                      <Text size="xs" ff="monospace" lineClamp={1} title={run.error}>
                        {errorSnippet(run.error)}
                      </Text>
                    )}
                  </Td>
                  {rowActions && (
                    <Td>
                      <RowActions run={run} />
                    </Td>
                  )}
                </Tr>
              ))}
              {query.isSuccess && items.length === 0 && (
                <Table.Tr>
                  <Table.Td colSpan={columns}>
                    <Text c="dimmed" ta="center" py="sm">
                      {filter ? "No runs match." : "No runs yet."}
                    </Text>
                  </Table.Td>
                </Table.Tr>
              )}
            </Table.Tbody>
          </Table>
        </ScrollX>
      )}
      {(total > size || onPageSizeChange) && (
        <Group>
          {total > size && (
            <Pagination
              total={Math.ceil(total / size)}
              value={page}
              onChange={setPage}
              getControlProps={(control) => ({ "aria-label": `${control} page of runs` })}
              getItemProps={(value) => ({ "aria-label": `Runs page ${value}` })}
            />
          )}
          {onPageSizeChange && (
            <Select
              aria-label="Runs per page"
              w={130}
              data={PAGE_SIZES.map((n) => ({ value: String(n), label: `${n} per page` }))}
              value={String(size)}
              allowDeselect={false}
              onChange={(value) => value && onPageSizeChange(Number(value))}
            />
          )}
        </Group>
      )}
    </>
  );
}
