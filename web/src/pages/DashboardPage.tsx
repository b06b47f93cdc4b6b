import { Anchor, Card, Group, List, Paper, SegmentedControl, SimpleGrid, Skeleton, Stack, Table, Text, Title, VisuallyHidden } from "@mantine/core";
import { lazy, Suspense, useEffect, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { useStats } from "../api/queries";
import type { RunStatus, Stats, StatusCounts } from "../api/types";
import { FirstTaskPrompt } from "../components/EmptyState";
import { PageTitle } from "../components/PageTitle";
import { QueryError } from "../components/QueryError";
import type { BarTarget } from "../components/RunsChart";
import { StatusBadge } from "../components/StatusBadge";
import { Time } from "../components/Time";
import { FAILED_STATUSES, formatAge, overdueSeconds, overdueText, runsLink, serverNow, type RunsFilter } from "../lib/dashboard";
import { formatRelative } from "../lib/format";

// recharts is the largest dependency: it loads only when the dashboard shows a chart.
const RunsChart = lazy(() => import("../components/RunsChart"));

const HOUR_MS = 3_600_000;

/** The current time by the server's clock, moving on every second. */
function useServerNow(serverIso: string | undefined, receivedAt: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return serverIso ? serverNow(serverIso, receivedAt, now) : now;
}

// React passes unknown lower-case attributes through; TypeScript's JSX types don't know this one.
const STAT_TIMING = { elementtiming: "stat-value" } as Record<string, string>;

function Stat({ label, value, hint, testId, to }: { label: string; value: React.ReactNode; hint?: React.ReactNode; testId?: string; to: string }) {
  // The whole card is one link: to the runs (or the page) its figure counts.
  return (
    <Paper
      component={Link}
      to={to}
      withBorder
      p="md"
      radius="md"
      data-testid={testId}
      style={{ textDecoration: "none", color: "inherit", display: "block" }}
    >
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
        {label}
      </Text>
      {/* elementtiming: the browser reports when the cards' figures are painted (bench/first_paint.py). */}
      <Text fz={28} fw={700} lh={1.3} {...STAT_TIMING}>
        {value}
      </Text>
      {hint && (
        <Text size="xs" c="dimmed">
          {hint}
        </Text>
      )}
    </Paper>
  );
}

function sum(counts: StatusCounts): number {
  return Object.values(counts).reduce<number>((total, value) => total + (value ?? 0), 0);
}

function CountsLine({ counts, since, testId }: { counts: StatusCounts; since: string; testId: string }) {
  const entries = Object.entries(counts).filter(([, value]) => (value ?? 0) > 0);
  if (!entries.length) return <Text size="sm" c="dimmed">No runs</Text>;
  return (
    <Group gap="xs" data-testid={testId}>
      {entries.map(([status, value]) => (
        <Anchor
          key={status}
          component={Link}
          to={runsLink({ status: [status as RunStatus], finished_from: since })}
          underline="never"
        >
          {/* The visible badge and count name the link (axe: label-content-name-mismatch); the rest is for screen readers. */}
          <Group gap={4}>
            <StatusBadge status={status} />
            <Text size="sm" c="var(--mantine-color-text)">
              {value}
            </Text>
            <VisuallyHidden>: open these runs</VisuallyHidden>
          </Group>
        </Anchor>
      ))}
    </Group>
  );
}

function DueTime({ iso, now }: { iso: string; now: number }) {
  const late = overdueText(iso, now);
  if (late) {
    return (
      <Text size="sm" c="red.8" fw={600} data-testid="overdue" title={new Date(iso).toISOString()}>
        {late}
      </Text>
    );
  }
  return (
    <Text size="sm">
      <Time iso={iso} relative />
    </Text>
  );
}

function FailingTasks({ data, windowLabel }: { data: Stats; windowLabel: string }) {
  const since = data.chart.since;
  return (
    <Card withBorder radius="md" data-testid="failing-tasks">
      <Title order={2} size="h4" mb="xs">
        Tasks that keep failing, {windowLabel}
      </Title>
      {data.failing_tasks.length ? (
        <Table verticalSpacing={4} layout="fixed">
          <Table.Thead>
            <Table.Tr>
              <Table.Th w="22%">Task</Table.Th>
              <Table.Th w="16%">Failures</Table.Th>
              <Table.Th>Last error</Table.Th>
              <Table.Th w="18%">Last failed</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {data.failing_tasks.map((task) => (
              <Table.Tr key={task.task_id} data-testid="failing-task">
                <Table.Td style={{ overflowWrap: "anywhere" }}>
                  <Anchor component={Link} to={`/tasks/${task.task_id}`}>
                    {task.task_name}
                  </Anchor>
                </Table.Td>
                <Table.Td>
                  <Anchor
                    component={Link}
                    to={runsLink({ task_id: task.task_id, status: FAILED_STATUSES, finished_from: since })}
                    aria-label={`${task.failures} of ${task.finished} runs of ${task.task_name} failed: open them`}
                  >
                    {task.failures} of {task.finished}
                  </Anchor>
                </Table.Td>
                <Table.Td>
                  <Text size="sm" ff="monospace" lineClamp={2} title={task.last_error ?? undefined} style={{ overflowWrap: "anywhere" }}>
                    {task.last_error ?? statusLabelOf(task.last_status)}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Anchor component={Link} to={`/runs/${task.last_run_id}`} size="sm">
                    {formatRelative(task.last_failed_at)}
                  </Anchor>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      ) : (
        <Text size="sm" c="dimmed">
          No task failed {windowLabel}.
        </Text>
      )}
    </Card>
  );
}

function statusLabelOf(status: RunStatus): string {
  return status === "timed_out" ? "timed out" : status;
}

export function DashboardPage() {
  const [search, setSearch] = useSearchParams();
  const bucket = search.get("chart") === "minute" ? "minute" : "hour";
  const stats = useStats(bucket);
  const navigate = useNavigate();
  const now = useServerNow(stats.data?.now, stats.dataUpdatedAt);
  if (stats.isError) return <QueryError error={stats.error} retry={() => void stats.refetch()} />;
  const data = stats.data;
  if (!data) {
    return (
      <Stack>
        <PageTitle title="Dashboard" />
        <SimpleGrid cols={{ base: 2, md: 4 }}>
          {Array.from({ length: 8 }, (_, index) => (
            <Skeleton key={index} h={90} />
          ))}
        </SimpleGrid>
      </Stack>
    );
  }
  if (data.tasks.total === 0) {
    return (
      <Stack>
        <PageTitle title="Dashboard" />
        <FirstTaskPrompt />
      </Stack>
    );
  }
  const rate = data.success_rate_last_day;
  const hourAgo = new Date(now - HOUR_MS).toISOString();
  const dayAgo = new Date(now - 24 * HOUR_MS).toISOString();
  const windowLabel = bucket === "minute" ? "last hour" : "last 24 hours";
  const late = data.late;
  const lateSince = late.oldest_due_at ? overdueSeconds(late.oldest_due_at, now) : 0;
  const openBar = (target: BarTarget) => {
    // The bars count runs by when they finished: the runs page filters the same way.
    const filter: RunsFilter = { finished_from: target.start, finished_to: target.end };
    filter.status = target.status ? [target.status] : ["succeeded", "failed", "timed_out", "cancelled", "skipped"];
    void navigate(runsLink(filter));
  };
  return (
    <Stack gap="md">
      <PageTitle title="Dashboard" />
      <SimpleGrid cols={{ base: 2, sm: 4, lg: 8 }}>
        <Stat label="Tasks" value={data.tasks.total} hint={`${data.tasks.enabled} enabled · ${data.tasks.paused} paused`} testId="stat-tasks" to="/tasks" />
        <Stat
          label="Success rate (24 h)"
          value={rate === null ? "—" : `${(rate * 100).toFixed(rate >= 0.995 || rate === 0 ? 0 : 1)}%`}
          hint={`${sum(data.runs_last_day)} runs in the last day`}
          testId="stat-success"
          to={runsLink({ finished_from: dayAgo })}
        />
        <Stat
          label={`Failed (${bucket === "minute" ? "1 h" : "24 h"})`}
          value={data.chart.buckets.reduce((total, b) => total + b.failed + b.timed_out, 0)}
          hint="failed or timed out"
          testId="stat-failed"
          to={runsLink({ status: FAILED_STATUSES, finished_from: data.chart.since })}
        />
        <Stat
          label="Late slots"
          value={late.total}
          hint={late.total ? `oldest overdue by ${formatAge(lateSince)}` : "none overdue"}
          testId="stat-late"
          to={runsLink({ status: ["queued"], scheduled_to: new Date(now - 1000).toISOString() })}
        />
        <Stat label="Queued" value={data.queued} hint={data.oldest_queued_at ? <>oldest {formatRelative(data.oldest_queued_at, now)}</> : "none waiting"} testId="stat-queued" to={runsLink({ status: ["queued"] })} />
        <Stat label="Running" value={data.running} testId="stat-running" to={runsLink({ status: ["running"] })} />
        <Stat label="Workers online" value={data.workers_online} hint="see workers" testId="stat-workers" to="/workers" />
        <Stat label="Runs (1 h)" value={sum(data.runs_last_hour)} testId="stat-runs-hour" to={runsLink({ finished_from: hourAgo })} />
      </SimpleGrid>

      <Card withBorder radius="md">
        <Group justify="space-between" mb="xs" wrap="wrap">
          <Title order={2} size="h4">
            {bucket === "minute" ? "Runs per minute, last hour" : "Runs per hour, last 24 hours"}
          </Title>
          <SegmentedControl
            size="xs"
            aria-label="Chart bars"
            value={bucket}
            onChange={(value) => {
              const next = new URLSearchParams(search);
              if (value === "minute") next.set("chart", "minute");
              else next.delete("chart");
              setSearch(next, { replace: true });
            }}
            data={[
              { value: "minute", label: "Last hour, by minute" },
              { value: "hour", label: "Last day, by hour" },
            ]}
          />
        </Group>
        <Suspense fallback={<Skeleton h={220} />}>
          <RunsChart chart={data.chart} onOpen={openBar} />
        </Suspense>
        <SimpleGrid cols={{ base: 1, sm: 2 }} mt="sm">
          <div>
            <Text size="sm" fw={500}>
              Last hour
            </Text>
            <CountsLine counts={data.runs_last_hour} since={hourAgo} testId="counts-hour" />
          </div>
          <div>
            <Text size="sm" fw={500}>
              Last day
            </Text>
            <CountsLine counts={data.runs_last_day} since={dayAgo} testId="counts-day" />
          </div>
        </SimpleGrid>
      </Card>

      <FailingTasks data={data} windowLabel={windowLabel} />

      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Card withBorder radius="md">
          <Title order={2} size="h4" mb="xs">
            Next runs due
          </Title>
          {data.next_due.length ? (
            <List listStyleType="none" spacing={6} data-testid="next-due">
              {data.next_due.map((item) => (
                <List.Item key={item.task_id}>
                  <Group justify="space-between" wrap="nowrap">
                    <Anchor component={Link} to={`/tasks/${item.task_id}`}>
                      {item.task_name}
                    </Anchor>
                    <DueTime iso={item.next_run_at} now={now} />
                  </Group>
                </List.Item>
              ))}
            </List>
          ) : (
            <Text size="sm" c="dimmed">
              Nothing is scheduled.
            </Text>
          )}
        </Card>
        <Card withBorder radius="md">
          <Title order={2} size="h4" mb="xs">
            Latest failures
          </Title>
          {data.latest_failures.length ? (
            <Table verticalSpacing={4}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Task</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th>When</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.latest_failures.map((run) => (
                  <Table.Tr key={run.id}>
                    <Table.Td>
                      <Anchor component={Link} to={`/runs/${run.id}`}>
                        {run.task_name} #{run.id}
                      </Anchor>
                    </Table.Td>
                    <Table.Td>
                      <StatusBadge status={run.status} />
                    </Table.Td>
                    <Table.Td>
                      <Time iso={run.finished_at ?? run.scheduled_for} relative />
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          ) : (
            <Text size="sm" c="dimmed">
              No failures in the last day.
            </Text>
          )}
        </Card>
      </SimpleGrid>
      <Text size="xs" c="dimmed">
        Cards and bars open the runs they count: finished runs by when they finished, late and queued ones by their slot.
      </Text>
    </Stack>
  );
}
