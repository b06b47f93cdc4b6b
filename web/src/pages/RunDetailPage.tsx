import { Alert, Anchor, Badge, Button, Card, Group, Skeleton, Stack, Table, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconPlayerPlay, IconPlayerStop, IconRefresh } from "@tabler/icons-react";
import type { ReactNode } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useCancelRun, useRun, useTaskAction } from "../api/queries";
import { useRetryRuns, useSlotAttempts } from "../api/runs";
import type { Run } from "../api/types";
import { usePermissions } from "../auth/AuthProvider";
import { confirm } from "../components/confirm";
import { PageTitle } from "../components/PageTitle";
import { errorMessage, QueryError } from "../components/QueryError";
import { RunOutput } from "../components/RunOutput";
import { StatusBadge } from "../components/StatusBadge";
import { Time } from "../components/Time";
import { formatDuration } from "../lib/format";
import { attemptChain, cancelRequester, elapsedMs, queueWaitMs, RETRYABLE } from "../lib/runs";
import { useNow } from "../lib/useNow";
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

/** The attempts of the run's slot, each linked, this one marked. */
function AttemptChainView({ run }: { run: Run }) {
  const slot = useSlotAttempts(run);
  const chain = attemptChain(run, slot.data ?? []);
  return (
    <Group gap={6} wrap="wrap" data-testid="attempt-chain">
      <Text span data-testid="attempt-label">
        {chain.label}
      </Text>
      {chain.attempts.length > 1 && (
        <Group gap={4} component="nav" aria-label="Attempts of this slot" wrap="wrap">
          {chain.attempts.map((attempt) =>
            attempt.id === run.id ? (
              <Badge key={attempt.id} variant="filled" color="dark" aria-current="page">
                {attempt.attempt}: #{attempt.id} (this one)
              </Badge>
            ) : (
              <Anchor key={attempt.id} component={Link} to={`/runs/${attempt.id}`} size="sm" data-testid="attempt-link">
                {attempt.attempt}: #{attempt.id} {attempt.status.replace("_", " ")}
              </Anchor>
            ),
          )}
        </Group>
      )}
    </Group>
  );
}

/** A cancel someone asked for, said as such (who, and whether the worker has stopped it yet). */
function CancelNotice({ run }: { run: Run }) {
  const who = cancelRequester(run.reason);
  const by = who ? ` by ${who}` : "";
  if (run.status === "running")
    return (
      <Alert color="yellow" title="Cancel requested" data-testid="cancel-notice">
        Cancel requested{by}; waiting for its worker to stop it.
      </Alert>
    );
  return (
    <Alert color="gray" title="Cancelled on request" data-testid="cancel-notice">
      <Text size="sm">{who || !run.reason ? `Cancelled${by}.` : run.reason}</Text>
      {run.error && (
        <Text size="sm" c="dimmed" mt={4}>
          The worker said: {run.error}
        </Text>
      )}
    </Alert>
  );
}

export function RunDetailPage() {
  const id = Number(useParams().runId);
  const query = useRun(id, true);
  const cancel = useCancelRun();
  const retry = useRetryRuns();
  const rerun = useTaskAction();
  const navigate = useNavigate();
  const { canOperate } = usePermissions();
  const run = query.data;
  const ticking = run?.status === "running" || run?.status === "queued";
  const now = useNow(ticking);
  if (query.isError) return <QueryError error={query.error} retry={() => void query.refetch()} />;
  if (!run) return <Skeleton h={300} />;
  const active = run.status === "queued" || run.status === "running";
  // A cancel someone asked for is not a failure: it gets its own notice, never the red error box.
  const askedToCancel = run.cancel_requested && (run.status === "running" || run.status === "cancelled");
  const wait = queueWaitMs(run, now);
  const elapsed = elapsedMs(run, now);

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

  const doRetry = async () => {
    try {
      const result = await retry.mutateAsync({ run_ids: [run.id] });
      const [next] = result.queued;
      if (next) void navigate(`/runs/${next.id}`);
      else notifications.show({ color: "yellow", title: "Not retried", message: result.skipped[0]?.reason ?? "" });
    } catch (error) {
      notifications.show({ color: "red", title: "Could not retry", message: errorMessage(error) });
    }
  };

  const doRerun = async () => {
    try {
      const created = (await rerun.mutateAsync({ id: run.task_id, action: "run" })) as Run;
      void navigate(`/runs/${created.id}`);
    } catch (error) {
      notifications.show({ color: "red", title: "Could not run", message: errorMessage(error) });
    }
  };

  return (
    <Stack gap="md">
      <PageTitle title={`Run #${run.id}`}>
        {canOperate && RETRYABLE.includes(run.status) && (
          <Button variant="light" leftSection={<IconRefresh size={16} aria-hidden />} onClick={() => void doRetry()} loading={retry.isPending}>
            Retry now
          </Button>
        )}
        {canOperate && (
          <Button variant="default" leftSection={<IconPlayerPlay size={16} aria-hidden />} onClick={() => void doRerun()} loading={rerun.isPending}>
            Re-run task
          </Button>
        )}
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
      {askedToCancel && <CancelNotice run={run} />}
      {run.error && !askedToCancel && (
        <Alert color="red" title="Error" data-testid="run-error">
          <Text size="sm" style={{ whiteSpace: "pre-wrap" }}>
            {run.error}
          </Text>
        </Alert>
      )}
      {run.reason && !askedToCancel && (
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
            <Row label="Attempt">
              <AttemptChainView run={run} />
            </Row>
            <Row label="Scheduled for">
              <Time iso={run.scheduled_for} />
            </Row>
            <Row label="Queued">
              <Time iso={run.queued_at} />
            </Row>
            {run.available_at !== run.queued_at && run.available_at !== run.scheduled_for && (
              <Row label="Could start at">
                <Time iso={run.available_at} />
              </Row>
            )}
            <Row label="Waited in the queue">
              <span data-testid="queue-wait">
                {wait !== null ? (
                  `${formatDuration(wait)}${run.status === "queued" ? " so far" : ""}`
                ) : run.status === "queued" ? (
                  <>
                    not due yet: it can start at <Time iso={run.available_at} />
                  </>
                ) : (
                  "—"
                )}
              </span>
            </Row>
            <Row label="Started">
              <Time iso={run.started_at} />
            </Row>
            <Row label="Finished">
              <Time iso={run.finished_at} />
            </Row>
            <Row label={run.status === "running" ? "Running for" : "Duration"}>
              <span data-testid="run-elapsed">{formatDuration(elapsed)}</span>
            </Row>
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
      <RunOutput runId={run.id} output={run.output ?? ""} live={active} />
      <Title order={2} size="h4">
        Notifications
      </Title>
      <NoticeTable params={{ run_id: run.id }} showRun={false} />
    </Stack>
  );
}
