// The status page: is tasksched healthy right now, and how much is it doing. It reads GET /api/status;
// run and task events refresh it (events.ts) and a 10 s poll keeps ticks, heartbeats and ages true.
import { Anchor, Badge, Card, Group, Paper, SimpleGrid, Skeleton, Stack, Table, Text, Title } from "@mantine/core";
import { lazy, Suspense, type ReactNode } from "react";
import { Link } from "react-router";
import { useStatus } from "../api/queries";
import type { Status } from "../api/types";
import { PageTitle } from "../components/PageTitle";
import { QueryError } from "../components/QueryError";
import { ScrollX } from "../components/ScrollX";
import { Time } from "../components/Time";
import { formatSeconds } from "../lib/format";

// recharts is the largest dependency: it loads only when a chart is shown.
const ThroughputChart = lazy(() => import("../components/ThroughputChart"));

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

function Health({ label, ok, children, testId }: { label: string; ok: boolean | null; children: ReactNode; testId: string }) {
  const badge = ok === null ? { color: "gray", text: "Not configured" } : ok ? { color: "teal", text: "OK" } : { color: "red", text: "Down" };
  return (
    <Paper withBorder p="md" radius="md" data-testid={testId}>
      <Group justify="space-between" wrap="nowrap">
        <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
          {label}
        </Text>
        <Badge color={badge.color} variant="light" data-testid={`${testId}-state`}>
          {badge.text}
        </Badge>
      </Group>
      <Text size="sm" mt={6} component="div">
        {children}
      </Text>
    </Paper>
  );
}

function Figure({ label, value, testId }: { label: string; value: ReactNode; testId: string }) {
  return (
    <div>
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
        {label}
      </Text>
      <Text fz={24} fw={700} lh={1.3} data-testid={testId}>
        {value}
      </Text>
    </div>
  );
}

function HealthCards({ data }: { data: Status }) {
  const alive = data.schedulers.filter((s) => s.alive).length;
  return (
    <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }}>
      <Health label="Database" ok={data.database.ok} testId="health-database">
        {data.database.ok ? "Answering" : data.database.error}
      </Health>
      <Health label="Schedulers" ok={alive > 0} testId="health-schedulers">
        <span data-testid="schedulers-alive">{alive}</span> ticking · last tick <Time iso={data.scheduler_last_tick} relative />
      </Health>
      <Health label="Workers" ok={data.workers.alive > 0} testId="health-workers">
        <span data-testid="workers-alive">{data.workers.alive}</span> alive ·{" "}
        <span data-testid="worker-slots">
          {data.workers.busy} of {data.workers.slots}
        </span>{" "}
        slots busy
      </Health>
      <Health label="Redis" ok={data.redis ? data.redis.ok : null} testId="health-redis">
        {data.redis === null ? "TASKSCHED_REDIS_URL is not set" : data.redis.ok ? "Answering PING" : data.redis.error}
      </Health>
    </SimpleGrid>
  );
}

function Throughput({ data }: { data: Status }) {
  return (
    <Card withBorder radius="md">
      <Title order={2} size="h4" mb="xs">
        Throughput
      </Title>
      <SimpleGrid cols={{ base: 2, sm: 4 }} mb="sm">
        <Figure label="Finished (1 h)" value={data.last_hour.finished} testId="hour-finished" />
        <Figure label="Failed (1 h)" value={data.last_hour.failed} testId="hour-failed" />
        <Figure label="Finished (24 h)" value={data.last_day.finished} testId="day-finished" />
        <Figure label="Failed (24 h)" value={data.last_day.failed} testId="day-failed" />
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <div>
          <Text size="sm" fw={500}>
            Per minute, last hour
          </Text>
          <Suspense fallback={<Skeleton h={200} />}>
            <ThroughputChart buckets={data.throughput.per_minute.map((b) => ({ ...b, at: b.minute }))} unit="minute" format={timeFormat} />
          </Suspense>
        </div>
        <div>
          <Text size="sm" fw={500}>
            Per hour, last 24 hours
          </Text>
          <Suspense fallback={<Skeleton h={200} />}>
            <ThroughputChart buckets={data.throughput.per_hour.map((b) => ({ ...b, at: b.hour }))} unit="hour" format={timeFormat} />
          </Suspense>
        </div>
      </SimpleGrid>
    </Card>
  );
}

function Backlog({ data }: { data: Status }) {
  return (
    <Card withBorder radius="md">
      <Title order={2} size="h4" mb="xs">
        Backlog
      </Title>
      <SimpleGrid cols={2} mb="sm">
        <Figure label="Queued" value={data.backlog.queued} testId="backlog-queued" />
        <Figure label="Running" value={data.backlog.running} testId="backlog-running" />
      </SimpleGrid>
      <ScrollX minWidth={320}>
        <Table data-testid="queues">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Queue</Table.Th>
              <Table.Th ta="right">Queued</Table.Th>
              <Table.Th>Oldest waiting</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {data.backlog.queues.map((q) => (
              <Table.Tr key={q.queue} data-queue={q.queue}>
                <Table.Td>{q.queue}</Table.Td>
                <Table.Td ta="right">{q.queued}</Table.Td>
                <Table.Td>{q.queued ? formatSeconds(q.oldest_age_seconds) : "—"}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </ScrollX>
    </Card>
  );
}

function NextDue({ data }: { data: Status }) {
  return (
    <Card withBorder radius="md">
      <Title order={2} size="h4" mb="xs">
        Next runs due
      </Title>
      {data.next_due.length ? (
        <Table data-testid="next-due">
          <Table.Tbody>
            {data.next_due.map((item) => (
              <Table.Tr key={item.task_id}>
                <Table.Td>
                  <Anchor component={Link} to={`/tasks/${item.task_id}`}>
                    {item.task_name}
                  </Anchor>
                </Table.Td>
                <Table.Td ta="right">
                  <Time iso={item.next_run_at} relative />
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      ) : (
        <Text size="sm" c="dimmed">
          Nothing is scheduled.
        </Text>
      )}
    </Card>
  );
}

function Processes({ data }: { data: Status }) {
  const backup = data.last_backup;
  return (
    <Card withBorder radius="md">
      <Title order={2} size="h4" mb="xs">
        Schedulers and backups
      </Title>
      {data.schedulers.length ? (
        <ScrollX minWidth={420}>
          <Table data-testid="schedulers">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Scheduler</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Last tick</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.schedulers.map((s) => (
                <Table.Tr key={s.name}>
                  <Table.Td>{s.name}</Table.Td>
                  <Table.Td>
                    <Badge color={s.alive ? "teal" : "gray"} variant="light">
                      {s.alive ? "ticking" : "stopped"}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Time iso={s.last_tick_at} relative />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </ScrollX>
      ) : (
        <Text size="sm" c="dimmed">
          No scheduler has run in the last day.
        </Text>
      )}
      <Text size="sm" mt="sm" data-testid="last-backup">
        Last backup:{" "}
        {backup ? (
          <>
            {backup.status} <Time iso={backup.finished_at ?? backup.started_at} relative />
            {backup.error ? ` (${backup.error})` : ""}
          </>
        ) : (
          "none recorded"
        )}
      </Text>
    </Card>
  );
}

export default function StatusPage() {
  const status = useStatus();
  if (status.isError) return <QueryError error={status.error} retry={() => void status.refetch()} />;
  const data = status.data;
  return (
    <Stack gap="md">
      <PageTitle title="Status">
        {data && (
          <Text size="sm" c="dimmed" data-testid="version">
            tasksched {data.version}
          </Text>
        )}
      </PageTitle>
      {data ? (
        <>
          <HealthCards data={data} />
          <Throughput data={data} />
          <SimpleGrid cols={{ base: 1, md: 2 }}>
            <Backlog data={data} />
            <NextDue data={data} />
          </SimpleGrid>
          <Processes data={data} />
        </>
      ) : (
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }}>
          {Array.from({ length: 4 }, (_, index) => (
            <Skeleton key={index} h={90} />
          ))}
        </SimpleGrid>
      )}
    </Stack>
  );
}
