import { Alert, Badge, Button, Code, Group, Select, Skeleton, Stack, Table, Text, TextInput } from "@mantine/core";
import { IconChevronDown, IconChevronRight } from "@tabler/icons-react";
import { Fragment, useState, type FormEvent } from "react";
import { useSearchParams } from "react-router";
import { useAuditList } from "../api/queries";
import type { AuditEntry, AuditListQuery } from "../api/types";
import { usePermissions } from "../auth/AuthProvider";
import { PageTitle } from "../components/PageTitle";
import { QueryError } from "../components/QueryError";
import { ScrollX } from "../components/ScrollX";
import { Time } from "../components/Time";
import { diffDocuments, showValue } from "../lib/diff";

// The actions the server records today (domain/audit.py); any other action can still be typed in the URL.
const ACTIONS = [
  "task.create",
  "task.update",
  "task.delete",
  "task.pause",
  "task.resume",
  "task.run",
  "run.cancel",
  "key.create",
  "key.revoke",
  "key.sign_in",
];
const TARGET_TYPES = ["task", "run", "key"];
const PAGE_SIZE = 50;

/** The filters and the page, as the URL holds them (so a filtered page can be linked and reloaded). */
function queryFrom(search: URLSearchParams): AuditListQuery {
  const number = (name: string) => {
    const value = Number(search.get(name));
    return Number.isInteger(value) && value > 0 ? value : undefined;
  };
  const action = search.get("action");
  return {
    actor: search.get("actor") || undefined,
    action: action ? [action] : undefined,
    target_type: search.get("target_type") || undefined,
    target_id: number("target_id"),
    since: search.get("since") || undefined,
    until: search.get("until") || undefined,
    before: number("before"),
    limit: PAGE_SIZE,
  };
}

/** A datetime-local input's value (the browser's zone) as UTC ISO text, and back. */
function toIso(local: string): string | undefined {
  const date = new Date(local);
  return local && !Number.isNaN(date.getTime()) ? date.toISOString() : undefined;
}

function toLocal(iso: string | null): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const offset = date.getTimezoneOffset() * 60_000;
  return new Date(date.getTime() - offset).toISOString().slice(0, 16);
}

function Filters({ search, apply }: { search: URLSearchParams; apply: (next: Record<string, string | undefined>) => void }) {
  const [actor, setActor] = useState(search.get("actor") ?? "");
  const [targetId, setTargetId] = useState(search.get("target_id") ?? "");
  const [since, setSince] = useState(toLocal(search.get("since")));
  const [until, setUntil] = useState(toLocal(search.get("until")));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    apply({ actor: actor.trim() || undefined, target_id: targetId.trim() || undefined, since: toIso(since), until: toIso(until) });
  };

  return (
    <form onSubmit={submit} aria-label="Filter the audit log">
      <Group align="flex-end" gap="sm" wrap="wrap">
        <TextInput label="Actor" placeholder="key name, or cli" w={180} value={actor} onChange={(event) => setActor(event.currentTarget.value)} />
        <Select
          label="Action"
          w={170}
          data={[{ value: "any", label: "Any" }, ...ACTIONS.map((value) => ({ value, label: value }))]}
          value={search.get("action") ?? "any"}
          allowDeselect={false}
          onChange={(value) => apply({ action: value && value !== "any" ? value : undefined })}
        />
        <Select
          label="Target"
          w={130}
          data={[{ value: "any", label: "Any" }, ...TARGET_TYPES.map((value) => ({ value, label: value }))]}
          value={search.get("target_type") ?? "any"}
          allowDeselect={false}
          onChange={(value) => apply({ target_type: value && value !== "any" ? value : undefined })}
        />
        <TextInput label="Target id" w={110} inputMode="numeric" value={targetId} onChange={(event) => setTargetId(event.currentTarget.value)} />
        <TextInput label="From" type="datetime-local" w={210} value={since} onChange={(event) => setSince(event.currentTarget.value)} />
        <TextInput label="Until" type="datetime-local" w={210} value={until} onChange={(event) => setUntil(event.currentTarget.value)} />
        <Button type="submit" variant="light">
          Apply
        </Button>
      </Group>
    </form>
  );
}

function Changes({ entry }: { entry: AuditEntry }) {
  const changes = diffDocuments(entry.before, entry.after);
  if (changes.length === 0) return <Text size="sm">No field changed.</Text>;
  return (
    <Table withTableBorder fz="sm" data-testid="audit-diff">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Field</Table.Th>
          <Table.Th>Before</Table.Th>
          <Table.Th>After</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {changes.map((change) => (
          <Table.Tr key={change.path}>
            <Table.Td>
              <Code>{change.path}</Code>
            </Table.Td>
            <Table.Td c={change.kind === "added" ? "dimmed" : "red"} style={{ wordBreak: "break-all" }}>
              {showValue(change.before)}
            </Table.Td>
            <Table.Td c={change.kind === "removed" ? "dimmed" : "teal"} style={{ wordBreak: "break-all" }}>
              {showValue(change.after)}
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function actorLabel(entry: AuditEntry): string {
  if (entry.actor.kind === "key") return `${entry.actor.name} (key ${entry.actor.key_id ?? "?"})`;
  return entry.actor.kind === "cli" ? "command line" : `tasksched: ${entry.actor.name}`;
}

function EntryRows({ entry }: { entry: AuditEntry }) {
  const [open, setOpen] = useState(false);
  const target = `${entry.target.type} ${entry.target.id ?? ""}`.trim();
  return (
    <Fragment>
      <Table.Tr data-testid="audit-row">
        <Table.Td>
          <Button
            size="compact-xs"
            variant="subtle"
            onClick={() => setOpen(!open)}
            aria-expanded={open}
            aria-label={`${open ? "Hide" : "Show"} changes of ${entry.action} ${target}`}
            leftSection={open ? <IconChevronDown size={14} aria-hidden /> : <IconChevronRight size={14} aria-hidden />}
          >
            Changes
          </Button>
        </Table.Td>
        <Table.Td>
          <Time iso={entry.at} />
        </Table.Td>
        <Table.Td>{actorLabel(entry)}</Table.Td>
        <Table.Td>
          <Badge variant="light" color={entry.action.endsWith(".delete") || entry.action.endsWith(".revoke") ? "red" : "blue"}>
            {entry.action}
          </Badge>
        </Table.Td>
        <Table.Td>
          {target}
          {entry.target.name ? ` · ${entry.target.name}` : ""}
        </Table.Td>
        <Table.Td>{entry.client_address ?? "—"}</Table.Td>
      </Table.Tr>
      {open && (
        <Table.Tr>
          <Table.Td colSpan={6}>
            <Changes entry={entry} />
          </Table.Td>
        </Table.Tr>
      )}
    </Fragment>
  );
}

export default function AuditPage() {
  const { canAdmin, known } = usePermissions();
  const [search, setSearch] = useSearchParams();
  const query = useAuditList(queryFrom(search), canAdmin);
  if (!known) return <Skeleton h={200} />;
  if (!canAdmin) {
    return (
      <Stack>
        <PageTitle title="Audit log" />
        <Alert color="gray">Only admins read the audit log.</Alert>
      </Stack>
    );
  }

  // A new filter starts from the newest entry again; paging keeps the filters.
  const apply = (next: Record<string, string | undefined>) => {
    const params = new URLSearchParams(search);
    params.delete("before");
    for (const [name, value] of Object.entries(next)) {
      if (value === undefined) params.delete(name);
      else params.set(name, value);
    }
    setSearch(params);
  };
  const page = (before: number | null) => {
    const params = new URLSearchParams(search);
    if (before === null) params.delete("before");
    else params.set("before", String(before));
    setSearch(params);
  };

  const items = query.data?.items;
  return (
    <Stack>
      <PageTitle title="Audit log" />
      <Text size="sm" c="dimmed">
        Every change made through the API or the command line: who, from where, and what it changed (secrets masked).
      </Text>
      <Filters key={search.toString()} search={search} apply={apply} />
      {query.isError ? (
        <QueryError error={query.error} retry={() => void query.refetch()} />
      ) : !items ? (
        <Skeleton h={200} />
      ) : items.length === 0 ? (
        <Text data-testid="audit-empty">No recorded change matches.</Text>
      ) : (
        <ScrollX minWidth={800}>
          <Table striped data-testid="audit-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>
                  <span className="sr-only">Details</span>
                </Table.Th>
                <Table.Th>Time</Table.Th>
                <Table.Th>Actor</Table.Th>
                <Table.Th>Action</Table.Th>
                <Table.Th>Target</Table.Th>
                <Table.Th>Client address</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((entry) => (
                <EntryRows key={entry.id} entry={entry} />
              ))}
            </Table.Tbody>
          </Table>
        </ScrollX>
      )}
      <Group justify="flex-end">
        <Button variant="default" disabled={!search.get("before")} onClick={() => page(null)}>
          Newest
        </Button>
        <Button variant="default" disabled={!query.data?.next_before} onClick={() => page(query.data?.next_before ?? null)}>
          Older
        </Button>
      </Group>
    </Stack>
  );
}
