import { Alert, Badge, Group, List, Loader, Paper, Stack, Table, Text } from "@mantine/core";
import { IconAlertTriangle } from "@tabler/icons-react";
import type { SchedulePreview } from "../api/types";
import { Time } from "../components/Time";
import { browserTimeZone, formatDateTime } from "../lib/format";

function inZone(iso: string, zone: string, fallback: string): string {
  try {
    return formatDateTime(iso, zone);
  } catch {
    return fallback;
  }
}

export function SchedulePreviewPanel({
  preview,
  loading,
  stale,
  error,
  hint,
  scheduleType,
  title = "Preview",
}: {
  preview: SchedulePreview | undefined;
  loading: boolean;
  stale: boolean;
  error: string | null;
  hint?: string | null;
  /** DST notes are shown for cron schedules only: clock changes move nothing else. */
  scheduleType: "once" | "interval" | "cron";
  title?: string;
}) {
  const sameZone = preview?.timezone === browserTimeZone;
  return (
    <Paper withBorder p="md" radius="md" aria-label={title === "Preview" ? "Schedule preview" : title} role="region" data-testid="schedule-preview">
      <Group justify="space-between" mb="xs">
        <Text fw={600}>{title}</Text>
        {loading && <Loader size="xs" aria-label="Updating preview" />}
      </Group>
      {hint && !preview && (
        <Text size="sm" c="dimmed" data-testid="preview-hint">
          {hint}
        </Text>
      )}
      {error && (
        <Alert color="red" icon={<IconAlertTriangle aria-hidden />} mb="xs">
          {error}
        </Alert>
      )}
      {preview && (
        <Stack gap="xs" style={{ opacity: stale ? 0.6 : 1 }} aria-live="polite">
          <Text size="sm" data-testid="preview-description">
            <strong>{preview.description}</strong>
          </Text>
          {scheduleType === "cron" &&
            (preview.dst_notes.length > 0 ? (
              <Alert color="yellow" title={`Clock changes in the next 12 months (${preview.timezone})`} p="xs" data-testid="dst-notes">
                <List size="sm">
                  {preview.dst_notes.map((note) => (
                    <List.Item key={note}>{note}</List.Item>
                  ))}
                </List>
              </Alert>
            ) : (
              <Text size="xs" c="dimmed" data-testid="no-dst">
                No clock changes in {preview.timezone} in the next 12 months.
              </Text>
            ))}
          {preview.fire_times.length === 0 ? (
            <Text size="sm" c="dimmed">
              It will not fire again.
            </Text>
          ) : (
            <Table verticalSpacing={2} fz="sm" data-testid="fire-times">
              <Table.Caption>Next {preview.fire_times.length} fire times</Table.Caption>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>#</Table.Th>
                  <Table.Th>
                    Task's zone <Badge size="xs" variant="light" tt="none">{preview.timezone}</Badge>
                  </Table.Th>
                  {!sameZone && (
                    <Table.Th>
                      Your zone <Badge size="xs" variant="light" tt="none">{browserTimeZone}</Badge>
                    </Table.Th>
                  )}
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {preview.fire_times.map((fire, index) => (
                  <Table.Tr key={fire.utc}>
                    <Table.Td>{index + 1}</Table.Td>
                    <Table.Td title={fire.local}>{inZone(fire.utc, preview.timezone, fire.local)}</Table.Td>
                    {!sameZone && (
                      <Table.Td>
                        <Time iso={fire.utc} />
                      </Table.Td>
                    )}
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Stack>
      )}
    </Paper>
  );
}
