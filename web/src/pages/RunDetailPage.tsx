import { Alert, Anchor, Button, Card, Code, Group, Skeleton, Stack, Table, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconPlayerStop } from "@tabler/icons-react";
import { useEffect, useRef, type ReactNode } from "react";
import { Link, useParams } from "react-router";
import { useCancelRun, useRun } from "../api/queries";
import { usePermissions } from "../auth/AuthProvider";
import { confirm } from "../components/confirm";
import { PageTitle } from "../components/PageTitle";
import { errorMessage, QueryError } from "../components/QueryError";
import { StatusBadge } from "../components/StatusBadge";
import { Time } from "../components/Time";
import { formatDuration } from "../lib/format";
import { NoticeTable } from "../notify/NoticeTable";

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Table.Tr>
      <Table.Th scope="row" w={180} fw={500}>
        {label}
      </Table.Th>
      <Table.Td>{children}</Table.Td>
    </Table.Tr>
  );
}

/** Output that grows while the run is live; keeps scrolled to the end unless the reader scrolled up. */
function Output({ text, live }: { text: string; live: boolean }) {
  const ref = useRef<HTMLPreElement>(null);
  const pinned = useRef(true);
  useEffect(() => {
    const element = ref.current;
    if (element && pinned.current) element.scrollTop = element.scrollHeight;
  }, [text]);
  return (
    <Code
      block
      ref={ref}
      className="run-output"
      data-testid="run-output"
      aria-live={live ? "polite" : "off"}
      aria-label="Run output"
      tabIndex={0}
      onScroll={(event) => {
        const element = event.currentTarget;
        pinned.current = element.scrollHeight - element.scrollTop - element.clientHeight < 24;
      }}
    >
      {text || (live ? "(waiting for output…)" : "(no output)")}
    </Code>
  );
}

export function RunDetailPage() {
  const id = Number(useParams().runId);
  const query = useRun(id, true);
  const cancel = useCancelRun();
  const { canOperate } = usePermissions();
  if (query.isError) return <QueryError error={query.error} retry={() => void query.refetch()} />;
  const run = query.data;
  if (!run) return <Skeleton h={300} />;
  const active = run.status === "queued" || run.status === "running";

  const doCancel = async () => {
    const ok = await confirm({
      title: `Cancel run #${run.id}?`,
      message: run.status === "running" ? "The running action is stopped." : "The run will not start.",
      confirmLabel: "Cancel run",
    });
    if (!ok) return;
    try {
      await cancel.mutateAsync(run.id);
      notifications.show({ color: "teal", message: "Cancellation requested." });
    } catch (error) {
      notifications.show({ color: "red", title: "Could not cancel", message: errorMessage(error) });
    }
  };

  return (
    <Stack gap="md">
      <PageTitle title={`Run #${run.id}`}>
        {canOperate && active && (
          <Button
            color="red"
            variant="light"
            leftSection={<IconPlayerStop size={16} aria-hidden />}
            onClick={() => void doCancel()}
            loading={cancel.isPending}
            disabled={run.cancel_requested}
          >
            {run.cancel_requested ? "Cancelling…" : "Cancel run"}
          </Button>
        )}
      </PageTitle>
      <Group gap="sm" mt={-8}>
        <StatusBadge status={run.status} />
        <Text>
          of{" "}
          <Anchor component={Link} to={`/tasks/${run.task_id}`}>
            {run.task_name}
          </Anchor>
        </Text>
      </Group>
      {run.error && (
        <Alert color="red" title="Error" data-testid="run-error">
          <Text size="sm" style={{ whiteSpace: "pre-wrap" }}>
            {run.error}
          </Text>
        </Alert>
      )}
      {run.reason && (
        <Alert color="gray" title={run.status === "skipped" ? "Why it was skipped" : "Reason"}>
          {run.reason}
        </Alert>
      )}
      <Card withBorder>
        <Table verticalSpacing={4}>
          <Table.Tbody>
            <Row label="Status">
              <span data-testid="run-status">{run.status}</span>
            </Row>
            <Row label="Trigger">{run.trigger}</Row>
            <Row label="Attempt">{run.attempt}</Row>
            <Row label="Scheduled for">
              <Time iso={run.scheduled_for} />
            </Row>
            <Row label="Queued">
              <Time iso={run.queued_at} />
            </Row>
            <Row label="Started">
              <Time iso={run.started_at} />
            </Row>
            <Row label="Finished">
              <Time iso={run.finished_at} />
            </Row>
            <Row label="Duration">{formatDuration(run.duration_ms)}</Row>
            <Row label="Worker">{run.worker ?? "—"}</Row>
            <Row label="Queue / priority">
              {run.queue} / {run.priority}
            </Row>
            {run.exit_code !== null && <Row label="Exit code">{run.exit_code}</Row>}
            {run.http_status !== null && <Row label="HTTP status">{run.http_status}</Row>}
          </Table.Tbody>
        </Table>
      </Card>
      <Title order={2} size="h4">
        Output
      </Title>
      <Output text={run.output ?? ""} live={active} />
      <Title order={2} size="h4">
        Notifications
      </Title>
      <NoticeTable params={{ run_id: run.id }} showRun={false} />
    </Stack>
  );
}
