import { Anchor, Badge, Button, Card, Code, Group, SimpleGrid, Skeleton, Stack, Table, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconCopy, IconEdit, IconPlayerPause, IconPlayerPlay, IconRocket, IconTrash } from "@tabler/icons-react";
import { lazy, Suspense, type ReactNode } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useTask, useTaskAction, useTaskPreview, type TaskAction } from "../api/queries";
import type { Action, Run, Task } from "../api/types";
import { usePermissions } from "../auth/AuthProvider";
import { confirm } from "../components/confirm";
import { PageTitle } from "../components/PageTitle";
import { errorMessage, QueryError } from "../components/QueryError";
import { RunTable } from "../components/RunTable";
import { NoticeTable } from "../notify/NoticeTable";
import { describeRules } from "../notify/rules";
import { StatusBadge } from "../components/StatusBadge";
import { Time } from "../components/Time";
import { formatSeconds } from "../lib/format";
import { describeSchedule } from "../lib/schedule";
import { SchedulePreviewPanel } from "../editor/SchedulePreviewPanel";

// The canvas timeline loads when a task page opens, not with the first page.
const TaskTimeline = lazy(() => import("../components/TaskTimeline"));

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Table.Tr>
      <Table.Th w={200} scope="row" fw={500}>
        {label}
      </Table.Th>
      <Table.Td>{children}</Table.Td>
    </Table.Tr>
  );
}

function ActionSummary({ action }: { action: Action }) {
  switch (action.type) {
    case "http":
      return (
        <Stack gap={2}>
          <Text size="sm">
            <Badge size="sm" variant="outline" mr={6}>
              HTTP
            </Badge>
            <Code>{action.method}</Code> <Code>{action.url}</Code>
          </Text>
          {Object.keys(action.headers ?? {}).length > 0 && (
            <Text size="xs" c="dimmed">
              Headers: {Object.keys(action.headers ?? {}).join(", ")} (values hidden)
            </Text>
          )}
          <Text size="xs" c="dimmed">
            Success: {action.expect_status?.length ? action.expect_status.join(", ") : "any 2xx"}
            {action.follow_redirects ? " · follows redirects" : " · no redirects"}
            {action.body !== null && action.body !== undefined ? " · has a body" : ""}
          </Text>
        </Stack>
      );
    case "shell":
      return (
        <Stack gap={2}>
          <Text size="sm">
            <Badge size="sm" variant="outline" mr={6}>
              Shell
            </Badge>
            <Code>{action.command.map((arg) => (/\s/.test(arg) ? JSON.stringify(arg) : arg)).join(" ")}</Code>
          </Text>
          {(action.cwd || Object.keys(action.env ?? {}).length > 0) && (
            <Text size="xs" c="dimmed">
              {action.cwd ? `cwd ${action.cwd}` : ""}
              {Object.keys(action.env ?? {}).length ? ` env: ${Object.keys(action.env ?? {}).join(", ")} (values hidden)` : ""}
            </Text>
          )}
        </Stack>
      );
    case "python":
      return (
        <Text size="sm">
          <Badge size="sm" variant="outline" mr={6}>
            Python
          </Badge>
          <Code>
            {action.function}({[...(action.args ?? []).map((arg) => JSON.stringify(arg)), ...Object.entries(action.kwargs ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`)].join(", ")})
          </Code>
        </Text>
      );
  }
}

function RetrySummary({ retry }: { retry: Task["retry"] }) {
  if (!retry || (retry.max_attempts ?? 1) <= 1) return <>no retries</>;
  return (
    <>
      up to {retry.max_attempts} attempts; backoff {retry.backoff_seconds} s × {retry.backoff_factor} (max {retry.max_backoff_seconds} s, jitter{" "}
      {Math.round((retry.jitter ?? 0) * 100)}%)
    </>
  );
}

export function TaskButtons({ task, onDeleted }: { task: Task; onDeleted: () => void }) {
  const { canOperate, canAdmin } = usePermissions();
  const mutation = useTaskAction();
  const act = async (action: TaskAction) => {
    if (action === "delete") {
      const ok = await confirm({
        title: `Delete “${task.name}”?`,
        message: "The task and its run history are deleted. This cannot be undone.",
        confirmLabel: "Delete task",
      });
      if (!ok) return;
    }
    try {
      const result = await mutation.mutateAsync({ id: task.id, action });
      if (action === "run") {
        const run = result as Run | undefined;
        notifications.show({
          color: "teal",
          message: run?.id ? (
            <>
              Run queued.{" "}
              <Anchor component={Link} to={`/runs/${run.id}`}>
                Open run #{run.id}
              </Anchor>
            </>
          ) : (
            "Run queued."
          ),
        });
      } else if (action === "delete") {
        notifications.show({ color: "teal", message: `Deleted “${task.name}”.` });
        onDeleted();
      } else {
        notifications.show({ color: "teal", message: action === "pause" ? "Paused." : "Resumed." });
      }
    } catch (error) {
      notifications.show({ color: "red", title: "That did not work", message: errorMessage(error) });
    }
  };
  const pending = mutation.isPending ? mutation.variables?.action : undefined;
  return (
    <>
      {canOperate && (
        <>
          <Button variant="light" leftSection={<IconRocket size={16} aria-hidden />} loading={pending === "run"} onClick={() => void act("run")}>
            Run now
          </Button>
          {task.enabled ? (
            <Button variant="light" leftSection={<IconPlayerPause size={16} aria-hidden />} loading={pending === "pause"} onClick={() => void act("pause")}>
              Pause
            </Button>
          ) : (
            <Button variant="light" leftSection={<IconPlayerPlay size={16} aria-hidden />} loading={pending === "resume"} onClick={() => void act("resume")}>
              Resume
            </Button>
          )}
        </>
      )}
      {canAdmin && (
        <>
          <Button component={Link} to={`/tasks/${task.id}/edit`} variant="default" leftSection={<IconEdit size={16} aria-hidden />}>
            Edit
          </Button>
          <Button component={Link} to={`/tasks/new?from=${task.id}`} variant="default" leftSection={<IconCopy size={16} aria-hidden />}>
            Duplicate
          </Button>
          <Button color="red" variant="light" leftSection={<IconTrash size={16} aria-hidden />} loading={pending === "delete"} onClick={() => void act("delete")}>
            Delete
          </Button>
        </>
      )}
    </>
  );
}

/** The task's next fire times (in its zone and the viewer's) and the coming year's clock changes. */
function NextFireTimes({ task }: { task: Task }) {
  const schedule = task.schedule;
  const preview = useTaskPreview(task.id, Boolean(schedule));
  if (!schedule) return null;
  return (
    <Stack gap={4}>
      {!task.enabled && (
        <Text size="sm" c="dimmed" data-testid="paused-preview-note">
          Paused: none of these fire until the task is resumed.
        </Text>
      )}
      <SchedulePreviewPanel
        title="Next fire times"
        preview={preview.data}
        loading={preview.isFetching}
        stale={false}
        error={preview.error ? errorMessage(preview.error) : null}
        scheduleType={schedule.type}
      />
    </Stack>
  );
}

export function TaskDetailPage() {
  const id = Number(useParams().taskId);
  const navigate = useNavigate();
  const query = useTask(id);
  if (query.isError) return <QueryError error={query.error} retry={() => void query.refetch()} />;
  const task = query.data;
  if (!task) return <Skeleton h={300} />;
  return (
    <Stack gap="md">
      <PageTitle title={task.name}>
        <TaskButtons task={task} onDeleted={() => void navigate("/tasks")} />
      </PageTitle>
      <Group gap="xs" mt={-8}>
        <Badge color={task.enabled ? "teal" : "gray"} variant="light" data-testid="task-state">
          {task.enabled ? "enabled" : "paused"}
        </Badge>
        {(task.tags ?? []).map((tag) => (
          <Badge key={tag} variant="outline" color="gray" tt="none">
            {tag}
          </Badge>
        ))}
      </Group>
      {task.description && <Text>{task.description}</Text>}
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <Card withBorder>
          <Title order={2} size="h4" mb="xs">
            Definition
          </Title>
          <Table verticalSpacing={4}>
            <Table.Tbody>
              <Field label="Action">
                <ActionSummary action={task.action} />
              </Field>
              <Field label="Schedule">
                <Text size="sm" data-testid="schedule-description">
                  {task.schedule_description ?? describeSchedule(task.schedule)}
                </Text>
                {task.schedule?.type === "cron" && (
                  <Text size="xs" c="dimmed">
                    <Code>{task.schedule.expression}</Code> in {task.schedule.timezone}
                  </Text>
                )}
              </Field>
              <Field label="Timeout">{task.timeout_seconds ? formatSeconds(task.timeout_seconds) : "none"}</Field>
              <Field label="Retries">
                <RetrySummary retry={task.retry} />
              </Field>
              <Field label="Overlap">{task.concurrency_policy}</Field>
              <Field label="Misfire">
                {task.misfire_policy.replace("_", " ")} (grace {task.misfire_grace_seconds} s)
              </Field>
              <Field label="Queue / priority">
                {task.queue} / {task.priority}
              </Field>
              <Field label="Notifies about">{task.notify ? describeRules(task.notify) : "the global rules"}</Field>
            </Table.Tbody>
          </Table>
        </Card>
        <Card withBorder>
          <Title order={2} size="h4" mb="xs">
            Status
          </Title>
          <Table verticalSpacing={4}>
            <Table.Tbody>
              <Field label="Next run">{task.enabled && task.next_run_at ? <Time iso={task.next_run_at} /> : "—"}</Field>
              <Field label="Last run">
                {task.last_run ? (
                  <Group gap={6}>
                    <Anchor component={Link} to={`/runs/${task.last_run.id}`}>
                      <StatusBadge status={task.last_run.status} />
                    </Anchor>
                    <Time iso={task.last_run.at} relative />
                  </Group>
                ) : (
                  "never"
                )}
              </Field>
              <Field label="Created">
                <Time iso={task.created_at} />
              </Field>
              <Field label="Updated">
                <Time iso={task.updated_at} /> (version {task.version})
              </Field>
            </Table.Tbody>
          </Table>
        </Card>
      </SimpleGrid>
      <NextFireTimes task={task} />
      <Title order={2} size="h3">
        Timeline
      </Title>
      <Suspense fallback={<Skeleton h={60} />}>
        <TaskTimeline taskId={task.id} />
      </Suspense>
      <Title order={2} size="h3">
        Run history
      </Title>
      <RunTable taskId={task.id} />
      <Title order={2} size="h3">
        Notifications
      </Title>
      <NoticeTable params={{ task_id: task.id }} />
    </Stack>
  );
}
