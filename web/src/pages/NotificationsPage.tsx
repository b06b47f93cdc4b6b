import { Alert, Badge, Button, Card, Group, Modal, Skeleton, Stack, Table, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconPlus } from "@tabler/icons-react";
import { useState } from "react";
import { ApiError } from "../api/client";
import { useChannels, useDeleteChannel, useNotifyRules, useSaveNotifyRules, useTestChannel } from "../api/queries";
import type { Channel } from "../api/types";
import { usePermissions } from "../auth/AuthProvider";
import { confirm } from "../components/confirm";
import { PageTitle } from "../components/PageTitle";
import { errorMessage, QueryError } from "../components/QueryError";
import { ScrollX } from "../components/ScrollX";
import { formatDuration } from "../lib/format";
import { ChannelForm } from "../notify/ChannelForm";
import { KIND_LABEL, NoticeTable } from "../notify/NoticeTable";
import { describeRules, rulesToValues, validateRules, valuesToRules, type RulesValues } from "../notify/rules";
import { RulesFields } from "../notify/RulesFields";

const TYPE_LABEL = { webhook: "Slack-style webhook", json: "JSON webhook", email: "E-mail" } as const;

function where(channel: Channel): string {
  const config = channel.config;
  if (config.type === "email") return `${config.to.join(", ")} via ${config.host}:${config.port ?? 587}`;
  try {
    return new URL(config.url).host;
  } catch {
    return config.url;
  }
}

function scopeText(channel: Channel): string {
  const scope = channel.scope ?? { all_tasks: true };
  if (scope.all_tasks) return "every task";
  const parts: string[] = [];
  const ids = scope.task_ids ?? [];
  const tags = scope.tags ?? [];
  if (ids.length) parts.push(`${ids.length} ${ids.length === 1 ? "task" : "tasks"}`);
  if (tags.length) parts.push(`tags ${tags.join(", ")}`);
  return parts.join(" and ") || "no task";
}

function GlobalRules({ canAdmin }: { canAdmin: boolean }) {
  const query = useNotifyRules();
  const save = useSaveNotifyRules();
  const [draft, setDraft] = useState<RulesValues | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  if (query.isError) return <QueryError error={query.error} retry={() => void query.refetch()} />;
  if (!query.data) return <Skeleton h={160} />;
  const values = draft ?? rulesToValues(query.data.rules);
  const saved = query.data.rules ?? valuesToRules(rulesToValues(null));

  const submit = async () => {
    const local = validateRules(values, "");
    setErrors(local);
    if (Object.keys(local).length) return;
    try {
      await save.mutateAsync({ rules: valuesToRules(values) });
      setDraft(null);
      notifications.show({ color: "teal", message: "Saved the global rules." });
    } catch (error) {
      if (error instanceof ApiError) setErrors(Object.fromEntries(error.fieldErrors.map((item) => [item.field.replace(/^rules\./, ""), item.message])));
      notifications.show({ color: "red", title: "Not saved", message: errorMessage(error) });
    }
  };

  return (
    <Card withBorder>
      <Title order={2} size="h4" mb={4}>
        Global rules
      </Title>
      <Text size="sm" mb="sm">
        Tasks without rules of their own notify about: {describeRules(saved)}.
      </Text>
      {canAdmin ? (
        <Stack gap="sm">
          <RulesFields value={values} onChange={setDraft} errors={errors} pathPrefix="rules." />
          <Group justify="flex-end">
            {draft && (
              <Button variant="default" onClick={() => setDraft(null)}>
                Discard changes
              </Button>
            )}
            <Button onClick={() => void submit()} loading={save.isPending} disabled={!draft}>
              Save rules
            </Button>
          </Group>
        </Stack>
      ) : (
        <Text size="sm">Only admins change them.</Text>
      )}
    </Card>
  );
}

function ChannelRows({ items, canAdmin, onEdit }: { items: Channel[]; canAdmin: boolean; onEdit: (channel: Channel) => void }) {
  const test = useTestChannel();
  const remove = useDeleteChannel();

  const sendTest = async (channel: Channel) => {
    try {
      const result = await test.mutateAsync(channel.id);
      notifications.show(
        result.ok
          ? { color: "teal", message: `“${channel.name}” accepted the test notice (${formatDuration(result.duration_ms)}).` }
          : { color: "red", title: `“${channel.name}” refused the test notice`, message: result.error ?? "no reason given" },
      );
    } catch (error) {
      notifications.show({ color: "red", title: "Could not send", message: errorMessage(error) });
    }
  };

  const doDelete = async (channel: Channel) => {
    const ok = await confirm({
      title: `Delete “${channel.name}”?`,
      message: "Its notices, delivered or not, go with it. Nothing more is sent to it.",
      confirmLabel: "Delete channel",
    });
    if (!ok) return;
    try {
      await remove.mutateAsync(channel.id);
      notifications.show({ color: "teal", message: `Deleted “${channel.name}”.` });
    } catch (error) {
      notifications.show({ color: "red", title: "Could not delete", message: errorMessage(error) });
    }
  };

  return (
    <ScrollX minWidth={760}>
      <Table striped data-testid="channel-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Kind</Table.Th>
            <Table.Th>Where</Table.Th>
            <Table.Th>For</Table.Th>
            <Table.Th>Notices</Table.Th>
            <Table.Th>State</Table.Th>
            {canAdmin && (
              <Table.Th>
                <span className="sr-only">Actions</span>
              </Table.Th>
            )}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {items.map((channel) => (
            <Table.Tr key={channel.id}>
              <Table.Td>{channel.name}</Table.Td>
              <Table.Td>{TYPE_LABEL[channel.config.type]}</Table.Td>
              <Table.Td>{where(channel)}</Table.Td>
              <Table.Td>{scopeText(channel)}</Table.Td>
              <Table.Td>{channel.kinds?.length ? channel.kinds.map((kind) => KIND_LABEL[kind]).join(", ") : "all kinds"}</Table.Td>
              <Table.Td>
                <Badge color={channel.enabled ? "teal" : "gray"} variant="light">
                  {channel.enabled ? "enabled" : "disabled"}
                </Badge>
              </Table.Td>
              {canAdmin && (
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    <Button size="xs" variant="subtle" onClick={() => void sendTest(channel)} loading={test.isPending && test.variables === channel.id} aria-label={`Send a test notice to ${channel.name}`}>
                      Test
                    </Button>
                    <Button size="xs" variant="subtle" onClick={() => onEdit(channel)} aria-label={`Edit ${channel.name}`}>
                      Edit
                    </Button>
                    <Button size="xs" variant="subtle" color="red" onClick={() => void doDelete(channel)} aria-label={`Delete ${channel.name}`}>
                      Delete
                    </Button>
                  </Group>
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </ScrollX>
  );
}

/** Channels (where notices go), the global rules (when they are written) and the latest notices. */
export default function NotificationsPage() {
  const { canAdmin } = usePermissions();
  const channels = useChannels();
  // undefined: closed; null: a new channel; a channel: editing it.
  const [editing, setEditing] = useState<Channel | null | undefined>(undefined);
  const items = channels.data?.items;

  return (
    <Stack>
      <PageTitle title="Notifications">
        {canAdmin && (
          <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={() => setEditing(null)}>
            New channel
          </Button>
        )}
      </PageTitle>
      <Modal opened={editing !== undefined} onClose={() => setEditing(undefined)} title={editing ? `Edit “${editing.name}”` : "New channel"} size="lg" centered>
        {editing !== undefined && (
          <ChannelForm
            channel={editing ?? undefined}
            onDone={(saved) => {
              setEditing(undefined);
              notifications.show({ color: "teal", message: `Saved “${saved.name}”.` });
            }}
          />
        )}
      </Modal>
      <Title order={2} size="h4">
        Channels
      </Title>
      {channels.isError ? (
        <QueryError error={channels.error} retry={() => void channels.refetch()} />
      ) : !items ? (
        <Skeleton h={120} />
      ) : items.length === 0 ? (
        <Alert color="gray" variant="light">
          No channel yet: notices have nowhere to go. {canAdmin ? "Add one with “New channel”." : "An admin can add one."}
        </Alert>
      ) : (
        <ChannelRows items={items} canAdmin={canAdmin} onEdit={setEditing} />
      )}
      <GlobalRules canAdmin={canAdmin} />
      <Title order={2} size="h4">
        Latest notices
      </Title>
      <NoticeTable params={{}} showTask />
    </Stack>
  );
}
