import { Anchor, Card, Group, List, Paper, SimpleGrid, Skeleton, Stack, Table, Text, Title } from "@mantine/core";
import { lazy, Suspense } from "react";
import { Link } from "react-router";
import { useStats } from "../api/queries";
import type { StatusCounts } from "../api/types";
import { FirstTaskPrompt } from "../components/EmptyState";
import { PageTitle } from "../components/PageTitle";
import { QueryError } from "../components/QueryError";
import { StatusBadge } from "../components/StatusBadge";
import { Time } from "../components/Time";
import { formatRelative } from "../lib/format";

// recharts is the largest dependency: it loads only when the dashboard shows a chart.
const RunsChart = lazy(() => import("../components/RunsChart"));

function Stat({ label, value, hint, testId }: { label: string; value: React.ReactNode; hint?: React.ReactNode; testId?: string }) {
  return (
    <Paper withBorder p="md" radius="md" data-testid={testId}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
        {label}
      </Text>
      <Text fz={28} fw={700} lh={1.3}>
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

function CountsLine({ counts }: { counts: StatusCounts }) {
  const entries = Object.entries(counts).filter(([, value]) => (value ?? 0) > 0);
  if (!entries.length) return <Text size="sm" c="dimmed">No runs</Text>;
  return (
    <Group gap="xs">
      {entries.map(([status, value]) => (
        <Group key={status} gap={4}>
          <StatusBadge status={status} />
          <Text size="sm">{value}</Text>
        </Group>
      ))}
    </Group>
  );
}

export function DashboardPage() {
  const stats = useStats();
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
  return (
    <Stack gap="md">
      <PageTitle title="Dashboard" />
      <SimpleGrid cols={{ base: 2, sm: 3, lg: 6 }}>
        <Stat label="Tasks" value={data.tasks.total} hint={`${data.tasks.enabled} enabled · ${data.tasks.paused} paused`} testId="stat-tasks" />
        <Stat
          label="Success rate (24 h)"
          value={rate === null ? "—" : `${(rate * 100).toFixed(rate >= 0.995 || rate === 0 ? 0 : 1)}%`}
          hint={`${sum(data.runs_last_day)} runs in the last day`}
          testId="stat-success"
        />
        <Stat label="Queued" value={data.queued} hint={data.oldest_queued_at ? <>oldest {formatRelative(data.oldest_queued_at)}</> : "none waiting"} testId="stat-queued" />
        <Stat label="Running" value={data.running} testId="stat-running" />
        <Stat label="Workers online" value={data.workers_online} hint={<Anchor component={Link} to="/workers" size="xs">see workers</Anchor>} testId="stat-workers" />
        <Stat label="Runs (1 h)" value={sum(data.runs_last_hour)} testId="stat-runs-hour" />
      </SimpleGrid>

      <Card withBorder radius="md">
        <Title order={2} size="h4" mb="xs">
          Runs per hour, last 24 hours
        </Title>
        <Suspense fallback={<Skeleton h={220} />}>
          <RunsChart buckets={data.runs_per_hour} />
        </Suspense>
        <SimpleGrid cols={{ base: 1, sm: 2 }} mt="sm">
          <div>
            <Text size="sm" fw={500}>
              Last hour
            </Text>
            <CountsLine counts={data.runs_last_hour} />
          </div>
          <div>
            <Text size="sm" fw={500}>
              Last day
            </Text>
            <CountsLine counts={data.runs_last_day} />
          </div>
        </SimpleGrid>
      </Card>

      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Card withBorder radius="md">
          <Title order={2} size="h4" mb="xs">
            Next runs due
          </Title>
          {data.next_due.length ? (
            <List listStyleType="none" spacing={6}>
              {data.next_due.map((item) => (
                <List.Item key={item.task_id}>
                  <Group justify="space-between" wrap="nowrap">
                    <Anchor component={Link} to={`/tasks/${item.task_id}`}>
                      {item.task_name}
                    </Anchor>
                    <Text size="sm">
                      <Time iso={item.next_run_at} relative />
                    </Text>
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
    </Stack>
  );
}
