import { ScrollX } from "./ScrollX";
import { Anchor, Group, Pagination, Table, Text } from "@mantine/core";
import { useState } from "react";
import { Link } from "react-router";
import { useRunList, type RunListParams } from "../api/queries";
import type { RunStatus } from "../api/types";
import { formatDuration } from "../lib/format";
import { QueryError } from "./QueryError";
import { StatusBadge } from "./StatusBadge";
import { Time } from "./Time";

const PAGE = 20;

/** Run history, newest first, paged on the server. */
export function RunTable({ taskId, status, showTask = false }: { taskId?: number; status?: RunStatus; showTask?: boolean }) {
  const [page, setPage] = useState(1);
  const params: RunListParams = { limit: PAGE, offset: (page - 1) * PAGE, task_id: taskId, status };
  const query = useRunList(params);
  if (query.isError) return <QueryError error={query.error} retry={() => void query.refetch()} />;
  const items = query.data?.items ?? [];
  const total = query.data?.total ?? 0;
  // Past a long history the server stops counting (total_exact false): "1,050+ runs".
  const more = query.data?.total_exact === false ? "+" : "";
  return (
    <>
      <ScrollX minWidth={720}>
        <Table striped highlightOnHover verticalSpacing={6} data-testid="run-table" aria-busy={query.isFetching}>
          <Table.Caption>{query.isPending ? "Loading runs…" : `${total.toLocaleString()}${more} run${total === 1 && !more ? "" : "s"}`}</Table.Caption>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Run</Table.Th>
              {showTask && <Table.Th>Task</Table.Th>}
              <Table.Th>Status</Table.Th>
              <Table.Th>Trigger</Table.Th>
              <Table.Th>Scheduled for</Table.Th>
              <Table.Th>Started</Table.Th>
              <Table.Th>Duration</Table.Th>
              <Table.Th>Attempt</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((run) => (
              <Table.Tr key={run.id} data-testid="run-row" data-run-id={run.id} data-status={run.status}>
                <Table.Td>
                  <Anchor component={Link} to={`/runs/${run.id}`}>
                    #{run.id}
                  </Anchor>
                </Table.Td>
                {showTask && (
                  <Table.Td>
                    <Anchor component={Link} to={`/tasks/${run.task_id}`}>
                      {run.task_name}
                    </Anchor>
                  </Table.Td>
                )}
                <Table.Td>
                  <StatusBadge status={run.status} />
                  {run.reason && (
                    <Text size="xs" c="dimmed" lineClamp={1} title={run.reason}>
                      {run.reason}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>{run.trigger}</Table.Td>
                <Table.Td>
                  <Time iso={run.scheduled_for} />
                </Table.Td>
                <Table.Td>
                  <Time iso={run.started_at} />
                </Table.Td>
                <Table.Td>{formatDuration(run.duration_ms)}</Table.Td>
                <Table.Td>{run.attempt}</Table.Td>
              </Table.Tr>
            ))}
            {query.isSuccess && items.length === 0 && (
              <Table.Tr>
                <Table.Td colSpan={showTask ? 8 : 7}>
                  <Text c="dimmed" ta="center" py="sm">
                    No runs yet.
                  </Text>
                </Table.Td>
              </Table.Tr>
            )}
          </Table.Tbody>
        </Table>
      </ScrollX>
      {total > PAGE && (
        <Group>
          <Pagination
            total={Math.ceil(total / PAGE)}
            value={page}
            onChange={setPage}
            getControlProps={(control) => ({ "aria-label": `${control} page of runs` })}
            getItemProps={(value) => ({ "aria-label": `Runs page ${value}` })}
          />
        </Group>
      )}
    </>
  );
}
