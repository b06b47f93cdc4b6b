import { ScrollX } from "../components/ScrollX";
import { ActionIcon, Alert, Badge, Button, Code, CopyButton, Group, Modal, Select, Skeleton, Stack, Table, Text, TextInput, Tooltip } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconCheck, IconCopy, IconPlus } from "@tabler/icons-react";
import { useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { useApiKeys, useCreateApiKey, useRevokeApiKey } from "../api/queries";
import type { ApiKey, CreatedApiKey, Role } from "../api/types";
import { useAuth, usePermissions } from "../auth/AuthProvider";
import { confirm } from "../components/confirm";
import { PageTitle } from "../components/PageTitle";
import { errorMessage, QueryError } from "../components/QueryError";
import { Time } from "../components/Time";

const ROLES: { value: Role; label: string }[] = [
  { value: "viewer", label: "viewer — reads everything" },
  { value: "operator", label: "operator — also runs, pauses, cancels" },
  { value: "admin", label: "admin — also edits tasks and keys" },
];

function CreateKeyModal({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const create = useCreateApiKey();
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const [nameError, setNameError] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);

  const close = () => {
    setName("");
    setRole("viewer");
    setNameError(null);
    setCreated(null);
    create.reset();
    onClose();
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!name.trim()) {
      setNameError("Give the key a name, e.g. who or what uses it.");
      return;
    }
    try {
      setCreated(await create.mutateAsync({ name: name.trim(), role }));
    } catch (error) {
      const fieldError = error instanceof ApiError ? error.fieldErrors.find((item) => item.field === "name") : undefined;
      setNameError(fieldError ? fieldError.message : errorMessage(error));
    }
  };

  return (
    <Modal opened={opened} onClose={close} title={created ? "Your new API key" : "Create an API key"} centered>
      {created ? (
        <Stack>
          <Alert color="yellow" title="Copy it now">
            This is the only time the key is shown. Store it somewhere safe.
          </Alert>
          <Group wrap="nowrap" gap="xs">
            <Code block style={{ flex: 1, wordBreak: "break-all" }} data-testid="new-key">
              {created.key}
            </Code>
            <CopyButton value={created.key}>
              {({ copied, copy }) => (
                <Tooltip label={copied ? "Copied" : "Copy"}>
                  <ActionIcon variant="light" size="lg" onClick={copy} aria-label={copied ? "Copied" : "Copy key"} color={copied ? "teal" : undefined}>
                    {copied ? <IconCheck size={18} aria-hidden /> : <IconCopy size={18} aria-hidden />}
                  </ActionIcon>
                </Tooltip>
              )}
            </CopyButton>
          </Group>
          <Text size="sm">
            {created.name} · {created.role}
          </Text>
          <Button onClick={close}>Done</Button>
        </Stack>
      ) : (
        <form onSubmit={submit} noValidate>
          <Stack>
            <TextInput label="Name" required value={name} onChange={(event) => setName(event.currentTarget.value)} error={nameError} data-autofocus />
            <Select label="Role" data={ROLES} value={role} onChange={(value) => value && setRole(value as Role)} allowDeselect={false} />
            <Group justify="flex-end">
              <Button variant="default" onClick={close}>
                Cancel
              </Button>
              <Button type="submit" loading={create.isPending}>
                Create key
              </Button>
            </Group>
          </Stack>
        </form>
      )}
    </Modal>
  );
}

export default function KeysPage() {
  const { canAdmin, known } = usePermissions();
  const { me } = useAuth();
  const query = useApiKeys(canAdmin);
  const revoke = useRevokeApiKey();
  const [open, setOpen] = useState(false);
  if (!known) return <Skeleton h={200} />;
  if (!canAdmin) {
    return (
      <Stack>
        <PageTitle title="API keys" />
        <Alert color="gray">Only admins manage API keys.</Alert>
      </Stack>
    );
  }
  if (query.isError) return <QueryError error={query.error} retry={() => void query.refetch()} />;

  const doRevoke = async (key: ApiKey) => {
    const mine = me !== undefined && key.prefix === me.prefix && key.name === me.name;
    const ok = await confirm({
      title: mine ? `Revoke “${key.name}”, the key you are signed in with?` : `Revoke “${key.name}”?`,
      message: mine ? (
        <Stack gap="xs">
          <Alert color="red" title="You are signed in with this key" data-testid="revoke-own-key">
            Revoking it signs you out at once, in every tab of this browser; you will need another admin key
            to sign in again.
          </Alert>
          <Text size="sm">Anything else using this key loses access too. This cannot be undone.</Text>
        </Stack>
      ) : (
        "Anything using this key loses access at once. This cannot be undone."
      ),
      confirmLabel: mine ? "Revoke my key and sign out" : "Revoke key",
    });
    if (!ok) return;
    try {
      await revoke.mutateAsync(key.id);
      notifications.show({ color: "teal", message: `Revoked “${key.name}”.` });
    } catch (error) {
      notifications.show({ color: "red", title: "Could not revoke", message: errorMessage(error) });
    }
  };

  const items = query.data?.items;
  return (
    <Stack>
      <PageTitle title="API keys">
        <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={() => setOpen(true)}>
          New key
        </Button>
      </PageTitle>
      <CreateKeyModal opened={open} onClose={() => setOpen(false)} />
      {!items ? (
        <Skeleton h={200} />
      ) : (
        <ScrollX minWidth={700}>
          <Table striped data-testid="key-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Prefix</Table.Th>
                <Table.Th>Role</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Last used</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>
                  <span className="sr-only">Actions</span>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((key) => (
                <Table.Tr key={key.id}>
                  <Table.Td>{key.name}</Table.Td>
                  <Table.Td>
                    <Code>{key.prefix}…</Code>
                  </Table.Td>
                  <Table.Td>{key.role}</Table.Td>
                  <Table.Td>
                    <Time iso={key.created_at} />
                  </Table.Td>
                  <Table.Td>{key.last_used_at ? <Time iso={key.last_used_at} relative /> : "never"}</Table.Td>
                  <Table.Td>
                    {key.revoked_at ? (
                      <Badge color="gray" variant="light">
                        revoked
                      </Badge>
                    ) : (
                      <Badge color="teal" variant="light">
                        active
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>
                    {!key.revoked_at && (
                      <Button size="xs" color="red" variant="subtle" onClick={() => void doRevoke(key)} aria-label={`Revoke ${key.name}`}>
                        Revoke
                      </Button>
                    )}
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
