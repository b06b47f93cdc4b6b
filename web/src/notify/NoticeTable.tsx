import { Alert, Anchor, Badge, Button, Code, Skeleton, Stack, Table, Text } from "@mantine/core";
import { Fragment, useState } from "react";
import { Link } from "react-router";
import { useNotices, type NoticeListParams } from "../api/queries";
import type { Notice, NoticeKind, NoticeStatus } from "../api/types";
import { QueryError } from "../components/QueryError";
import { ScrollX } from "../components/ScrollX";
import { Time } from "../components/Time";
import { formatDuration } from "../lib/format";

const STATUS_COLOR: Record<NoticeStatus, string> = { pending: "yellow", sending: "blue", delivered: "teal", failed: "red" };

export const KIND_LABEL: Record<NoticeKind, string> = {
  failed: "Failed",
  consecutive_failures: "Failures in a row",
  recovered: "Recovered",
  late_start: "Late start",
  long_running: "Long-running",
  no_success: "No success",
  test: "Test",
};

function Delivery({ notice }: { notice: Notice }) {
  if (notice.status === "delivered") return <Time iso={notice.delivered_at} relative />;
  if (notice.status === "pending" && notice.next_attempt_at) {
    return (
      <Text size="sm" component="span">
        next try <Time iso={notice.next_attempt_at} relative />
      </Text>
    );
  }
  if (notice.status === "failed") return <Text size="sm">given up</Text>;
  return <Text size="sm">{notice.status === "sending" ? "sending now" : "waiting"}</Text>;
}

function History({ notice }: { notice: Notice }) {
  const history = notice.history ?? [];
  return (
    <Stack gap="xs" py="xs">
      <Code block style={{ whiteSpace: "pre-wrap" }}>
        {notice.text}
      </Code>
      {history.length === 0 ? (
        <Text size="sm">No delivery attempt yet.</Text>
      ) : (
        <Table withRowBorders={false} verticalSpacing={2} aria-label={`Delivery attempts of notice ${notice.id}`}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Attempt</Table.Th>
              <Table.Th>At</Table.Th>
              <Table.Th>Took</Table.Th>
              <Table.Th>By</Table.Th>
              <Table.Th>Result</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {history.map((attempt) => (
              <Table.Tr key={attempt.attempt}>
                <Table.Td>{attempt.attempt}</Table.Td>
                <Table.Td>
                  <Time iso={attempt.started_at} />
                </Table.Td>
                <Table.Td>{formatDuration(attempt.duration_ms)}</Table.Td>
                <Table.Td>{attempt.worker}</Table.Td>
                <Table.Td>{attempt.ok ? "delivered" : (attempt.error ?? "failed")}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}

/** The notices of a task or a run, with their delivery (each attempt on demand). */
export function NoticeTable({ params, showRun = true, showTask = false }: { params: Omit<NoticeListParams, "limit" | "offset">; showRun?: boolean; showTask?: boolean }) {
  const query = useNotices({ ...params, limit: 20, offset: 0 });
  const [open, setOpen] = useState<number | null>(null);
  if (query.isError) return <QueryError error={query.error} retry={() => void query.refetch()} />;
  if (!query.data) return <Skeleton h={80} />;
  const { items, total } = query.data;
  if (!items.length) {
    return (
      <Alert color="gray" variant="light" data-testid="no-notices">
        No notifications were sent. The rules and channels on the{" "}
        <Anchor component={Link} to="/notifications">
          Notifications
        </Anchor>{" "}
        page say when they are.
      </Alert>
    );
  }
  const columns = 6 + Number(showRun) + Number(showTask);
  return (
    <Stack gap={4}>
      <ScrollX minWidth={720}>
        <Table data-testid="notice-table" verticalSpacing={4}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Why</Table.Th>
              {showTask && <Table.Th>Task</Table.Th>}
              <Table.Th>Channel</Table.Th>
              {showRun && <Table.Th>Run</Table.Th>}
              <Table.Th>Status</Table.Th>
              <Table.Th>Written</Table.Th>
              <Table.Th>Delivery</Table.Th>
              <Table.Th>
                <span className="sr-only">Details</span>
              </Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((notice) => (
              <Fragment key={notice.id}>
                <Table.Tr data-notice-status={notice.status} data-notice-kind={notice.kind}>
                  <Table.Td>{KIND_LABEL[notice.kind]}</Table.Td>
                  {showTask && (
                    <Table.Td>
                      {notice.task_id ? (
                        <Anchor component={Link} to={`/tasks/${notice.task_id}`}>
                          {notice.task_name}
                        </Anchor>
                      ) : (
                        notice.task_name
                      )}
                    </Table.Td>
                  )}
                  <Table.Td>{notice.channel_name}</Table.Td>
                  {showRun && (
                    <Table.Td>
                      {notice.run_id ? (
                        <Anchor component={Link} to={`/runs/${notice.run_id}`}>
                          #{notice.run_id}
                        </Anchor>
                      ) : (
                        "—"
                      )}
                    </Table.Td>
                  )}
                  <Table.Td>
                    <Badge color={STATUS_COLOR[notice.status]} variant="light">
                      {notice.status}
                    </Badge>
                    {notice.last_error && notice.status !== "delivered" && (
                      <Text size="xs" c="red.8" lineClamp={2} title={notice.last_error}>
                        {notice.last_error}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Time iso={notice.created_at} relative />
                  </Table.Td>
                  <Table.Td>
                    <Delivery notice={notice} />
                  </Table.Td>
                  <Table.Td>
                    <Button
                      size="xs"
                      variant="subtle"
                      aria-expanded={open === notice.id}
                      onClick={() => setOpen(open === notice.id ? null : notice.id)}
                    >
                      {notice.attempts} {notice.attempts === 1 ? "attempt" : "attempts"}
                    </Button>
                  </Table.Td>
                </Table.Tr>
                {open === notice.id && (
                  <Table.Tr>
                    <Table.Td colSpan={columns}>
                      <History notice={notice} />
                    </Table.Td>
                  </Table.Tr>
                )}
              </Fragment>
            ))}
          </Table.Tbody>
        </Table>
      </ScrollX>
      {total > items.length && (
        <Text size="sm">
          The newest {items.length} of {total}.
        </Text>
      )}
    </Stack>
  );
}
