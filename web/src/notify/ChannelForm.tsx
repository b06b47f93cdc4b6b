import { Alert, Button, Group, MultiSelect, NumberInput, PasswordInput, SegmentedControl, Select, Stack, Switch, TagsInput, Text, TextInput } from "@mantine/core";
import { useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { useSaveChannel, useTaskList } from "../api/queries";
import type { Channel, ChannelConfig, ChannelSpec, NoticeKind } from "../api/types";
import { errorMessage } from "../components/QueryError";
import { KeyValueEditor } from "../editor/KeyValueEditor";
import type { KeyValue } from "../editor/taskForm";
import { KIND_LABEL } from "./NoticeTable";

// What the API shows in place of a stored secret, and takes back to mean "keep it".
const MASK = "********";

type ChannelType = ChannelConfig["type"];

interface Values {
  name: string;
  enabled: boolean;
  type: ChannelType;
  url: string;
  blocks: boolean;
  hmac_secret: string;
  headers: KeyValue[];
  host: string;
  port: number | "";
  security: "starttls" | "tls" | "none";
  username: string;
  password: string;
  from_address: string;
  to: string[];
  all_tasks: boolean;
  task_ids: string[];
  tags: string[];
  kinds: NoticeKind[];
}

function valuesOf(channel?: Channel): Values {
  const values: Values = {
    name: "",
    enabled: true,
    type: "webhook",
    url: "",
    blocks: false,
    hmac_secret: "",
    headers: [],
    host: "",
    port: 587,
    security: "starttls",
    username: "",
    password: "",
    from_address: "",
    to: [],
    all_tasks: true,
    task_ids: [],
    tags: [],
    kinds: [],
  };
  if (!channel) return values;
  const config = channel.config;
  const scope = channel.scope ?? { all_tasks: true };
  Object.assign(values, {
    name: channel.name,
    enabled: channel.enabled,
    type: config.type,
    all_tasks: scope.all_tasks ?? false,
    task_ids: (scope.task_ids ?? []).map(String),
    tags: scope.tags ?? [],
    kinds: channel.kinds ?? [],
  });
  // Secret inputs start empty: an empty one keeps the stored value (sent back as the mask).
  if (config.type === "webhook" || config.type === "json") values.url = config.url;
  if (config.type === "webhook") values.blocks = config.blocks ?? false;
  if (config.type === "json") values.headers = Object.entries(config.headers ?? {}).map(([key, value]) => ({ key, value }));
  if (config.type === "email") {
    Object.assign(values, {
      host: config.host,
      port: config.port ?? 587,
      security: config.security ?? "starttls",
      username: config.username ?? "",
      from_address: config.from_address,
      to: config.to,
    });
  }
  return values;
}

function storedSecret(channel: Channel | undefined, name: "hmac_secret" | "password"): boolean {
  const config = channel?.config as Record<string, unknown> | undefined;
  return config?.[name] === MASK;
}

function specOf(values: Values, channel: Channel | undefined, cleared: Set<string>): ChannelSpec {
  const secret = (name: "hmac_secret" | "password", typed: string): string | null => {
    if (typed) return typed;
    if (storedSecret(channel, name) && !cleared.has(name) && channel?.config.type === values.type) return MASK;
    return null;
  };
  let config: ChannelConfig;
  if (values.type === "webhook") {
    config = { type: "webhook", url: values.url.trim(), blocks: values.blocks, hmac_secret: secret("hmac_secret", values.hmac_secret) };
  } else if (values.type === "json") {
    const headers: Record<string, string> = {};
    for (const pair of values.headers) if (pair.key.trim()) headers[pair.key.trim()] = pair.value;
    config = { type: "json", url: values.url.trim(), headers, hmac_secret: secret("hmac_secret", values.hmac_secret) };
  } else {
    config = {
      type: "email",
      host: values.host.trim(),
      port: values.port === "" ? 587 : values.port,
      security: values.security,
      username: values.username.trim() || null,
      password: secret("password", values.password),
      from_address: values.from_address.trim(),
      to: values.to,
    };
  }
  return {
    name: values.name.trim(),
    enabled: values.enabled,
    config,
    scope: { all_tasks: values.all_tasks, task_ids: values.all_tasks ? [] : values.task_ids.map(Number), tags: values.all_tasks ? [] : values.tags },
    kinds: values.kinds,
  };
}

const KIND_CHOICES = (Object.keys(KIND_LABEL) as NoticeKind[]).filter((kind) => kind !== "test").map((kind) => ({ value: kind, label: KIND_LABEL[kind] }));

function TaskPicker({ value, onChange, error }: { value: string[]; onChange: (next: string[]) => void; error?: string }) {
  const [search, setSearch] = useState("");
  const list = useTaskList({ limit: 50, offset: 0, sort: "name", q: search || undefined });
  const known = new Map((list.data?.items ?? []).map((task) => [String(task.id), task.name]));
  // Chosen tasks stay listed even when the search no longer finds them.
  const data = [...new Set([...value, ...known.keys()])].map((id) => ({ value: id, label: known.get(id) ?? `task #${id}` }));
  return (
    <MultiSelect
      label="Tasks"
      description="Type to search by name."
      searchable
      searchValue={search}
      onSearchChange={setSearch}
      data={data}
      value={value}
      onChange={onChange}
      error={error}
      data-path="scope.task_ids"
      nothingFoundMessage={list.isFetching ? "Searching…" : "No task by that name"}
    />
  );
}

/** Create or edit a channel. Field errors from the server show beside the field they name. */
export function ChannelForm({ channel, onDone }: { channel?: Channel; onDone: (saved: Channel) => void }) {
  const [values, setValues] = useState<Values>(() => valuesOf(channel));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [cleared, setCleared] = useState<Set<string>>(new Set());
  const save = useSaveChannel();
  const set = <K extends keyof Values>(name: K, next: Values[K]) => setValues((old) => ({ ...old, [name]: next }));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const local: Record<string, string> = {};
    if (!values.name.trim()) local.name = "Give the channel a name.";
    if (values.type !== "email" && !values.url.trim()) local["config.url"] = "Enter the URL to post to.";
    if (values.type === "email") {
      if (!values.host.trim()) local["config.host"] = "Enter the SMTP server.";
      if (!values.from_address.trim()) local["config.from_address"] = "Enter the sender's address.";
      if (!values.to.length) local["config.to"] = "Add at least one recipient (Enter after each).";
    }
    if (!values.all_tasks && !values.task_ids.length && !values.tags.length) local.scope = "Pick tasks or tags, or choose every task.";
    setErrors(local);
    setGeneral(null);
    if (Object.keys(local).length) return;
    try {
      const saved = await save.mutateAsync({ id: channel?.id, spec: specOf(values, channel, cleared) });
      onDone(saved);
    } catch (error) {
      if (error instanceof ApiError && error.fieldErrors.length) {
        const fields: Record<string, string> = {};
        const rest: string[] = [];
        for (const item of error.fieldErrors) {
          const field = item.field.replace(/^config\.headers\..*/, "config.headers").replace(/^scope\..*/, "scope");
          if (item.field) fields[field] = item.message;
          else rest.push(item.message);
        }
        setErrors(fields);
        setGeneral(rest.length ? rest.join(" ") : error.message);
      } else setGeneral(errorMessage(error));
    }
  };

  const secretInput = (name: "hmac_secret" | "password", label: string, description: string) => {
    const stored = storedSecret(channel, name) && channel?.config.type === values.type && !cleared.has(name);
    return (
      <Stack gap={4}>
        <PasswordInput
          label={label}
          description={stored ? "A value is stored and never shown. Leave empty to keep it, or type a new one." : description}
          placeholder={stored ? "stored (unchanged)" : undefined}
          value={values[name]}
          onChange={(event) => set(name, event.currentTarget.value)}
          error={errors[`config.${name}`]}
          autoComplete="new-password"
        />
        {stored && (
          <Button size="compact-xs" variant="subtle" color="red" w="fit-content" onClick={() => setCleared(new Set([...cleared, name]))}>
            Remove the stored {name === "password" ? "password" : "secret"}
          </Button>
        )}
      </Stack>
    );
  };

  return (
    <form onSubmit={(event) => void submit(event)} noValidate aria-label="Channel">
      <Stack gap="sm">
        {general && (
          <Alert color="red" title="Not saved" role="alert">
            {general}
          </Alert>
        )}
        <TextInput label="Name" required value={values.name} onChange={(event) => set("name", event.currentTarget.value)} error={errors.name} data-autofocus />
        <Switch label="Enabled" checked={values.enabled} onChange={(event) => set("enabled", event.currentTarget.checked)} />
        <div>
          <Text size="sm" fw={500} id="channel-type-label">
            Kind
          </Text>
          <SegmentedControl
            aria-labelledby="channel-type-label"
            value={values.type}
            onChange={(next) => set("type", next as ChannelType)}
            data={[
              { value: "webhook", label: "Slack-style webhook" },
              { value: "json", label: "JSON webhook" },
              { value: "email", label: "E-mail" },
            ]}
          />
        </div>
        {values.type !== "email" && (
          <TextInput label="URL" required value={values.url} onChange={(event) => set("url", event.currentTarget.value)} error={errors["config.url"]} placeholder="https://hooks.example.com/…" />
        )}
        {values.type === "webhook" && <Switch label="Also send Slack Block Kit blocks" checked={values.blocks} onChange={(event) => set("blocks", event.currentTarget.checked)} />}
        {values.type === "json" && (
          <KeyValueEditor
            label="Extra headers"
            path="config.headers"
            value={values.headers}
            onChange={(next) => set("headers", next)}
            errors={errors}
            keyLabel="Header"
            valueLabel="Value"
            secretValues
            description="Values are write-only: they read back as ******** and are kept when sent back so."
          />
        )}
        {values.type !== "email" && secretInput("hmac_secret", "HMAC signing secret", "Optional: each body is signed (HMAC-SHA256) so the receiver can check it came from here.")}
        {values.type === "email" && (
          <>
            <Group grow align="flex-start">
              <TextInput label="SMTP server" required value={values.host} onChange={(event) => set("host", event.currentTarget.value)} error={errors["config.host"]} />
              <NumberInput label="Port" min={1} max={65535} allowDecimal={false} value={values.port} onChange={(next) => set("port", typeof next === "number" ? next : "")} error={errors["config.port"]} />
            </Group>
            <Select
              label="Security"
              allowDeselect={false}
              value={values.security}
              onChange={(next) => next && set("security", next as Values["security"])}
              data={[
                { value: "starttls", label: "STARTTLS (usually port 587)" },
                { value: "tls", label: "TLS from the start (usually 465)" },
                { value: "none", label: "None (loopback or a trusted relay only)" },
              ]}
            />
            <TextInput label="User name" value={values.username} onChange={(event) => set("username", event.currentTarget.value)} error={errors["config.username"]} autoComplete="off" />
            {secretInput("password", "Password", "Optional; needs a user name.")}
            <TextInput label="From" required value={values.from_address} onChange={(event) => set("from_address", event.currentTarget.value)} error={errors["config.from_address"]} placeholder="tasksched@example.com" />
            <TagsInput label="To" required description="Press Enter after each address." value={values.to} onChange={(next) => set("to", next)} error={errors["config.to"]} />
          </>
        )}
        <Switch label="Every task" checked={values.all_tasks} onChange={(event) => set("all_tasks", event.currentTarget.checked)} />
        {!values.all_tasks && (
          <>
            <TaskPicker value={values.task_ids} onChange={(next) => set("task_ids", next)} error={errors.scope} />
            <TagsInput label="Or tasks with these tags" description="Press Enter after each tag." value={values.tags} onChange={(next) => set("tags", next)} />
          </>
        )}
        <MultiSelect
          label="Only these kinds of notice"
          description="Empty: every kind the tasks' rules write."
          data={KIND_CHOICES}
          value={values.kinds}
          onChange={(next) => set("kinds", next as NoticeKind[])}
          error={errors.kinds}
          clearable
        />
        <Group justify="flex-end">
          <Button type="submit" loading={save.isPending}>
            {channel ? "Save channel" : "Create channel"}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
