import { ScrollX } from "../components/ScrollX";
import { Badge, Skeleton, Stack, Table, Text } from "@mantine/core";
import { useWorkers } from "../api/queries";
import { PageTitle } from "../components/PageTitle";
import { QueryError } from "../components/QueryError";
import { Time } from "../components/Time";

export function WorkersPage() {
  const query = useWorkers();
  if (query.isError) return <QueryError error={query.error} retry={() => void query.refetch()} />;
  const items = query.data?.items;
  return (
    <Stack>
      <PageTitle title="Workers" />
      {!items ? (
        <Skeleton h={200} />
      ) : items.length === 0 ? (
        <Text c="dimmed">No worker has registered yet. `tasksched serve` runs one in-process; `tasksched worker` starts more.</Text>
      ) : (
        <ScrollX minWidth={700}>
          <Table striped data-testid="worker-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Worker</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Host / PID</Table.Th>
                <Table.Th>Queues</Table.Th>
                <Table.Th>Running</Table.Th>
                <Table.Th>Last heartbeat</Table.Th>
                <Table.Th>Started</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((worker) => (
                <Table.Tr key={worker.name}>
                  <Table.Td>{worker.name}</Table.Td>
                  <Table.Td>
                    <Badge color={worker.online ? "teal" : "gray"} variant="light">
                      {worker.online ? "online" : "offline"}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    {worker.hostname} / {worker.pid}
                  </Table.Td>
                  <Table.Td>{worker.queues.join(", ")}</Table.Td>
                  <Table.Td>
                    {worker.running} of {worker.concurrency}
                  </Table.Td>
                  <Table.Td>
                    <Time iso={worker.heartbeat_at} relative />
                  </Table.Td>
                  <Table.Td>
                    <Time iso={worker.started_at} relative />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </ScrollX>
      )}
    </Stack>
  );
}
