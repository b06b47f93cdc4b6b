import { Alert, Button, Card, Grid, Group, List, NumberInput, SegmentedControl, Select, Stack, Switch, TagsInput, Text, Textarea, TextInput, Title } from "@mantine/core";
import { useForm } from "@mantine/form";
import { IconAlertTriangle } from "@tabler/icons-react";
import { useEffect, useState, type ReactNode } from "react";
import { ApiError } from "../api/client";
import type { TaskSpec } from "../api/types";
import { RulesFields } from "../notify/RulesFields";
import { ActionEditor } from "./ActionEditor";
import { ScheduleEditor } from "./ScheduleEditor";
import { mapApiErrors, specFromValues, validateTask, type NumberField, type TaskFormValues } from "./taskForm";

export interface TaskFormProps {
  initialValues: TaskFormValues;
  submitLabel: string;
  /** Saves the spec; throw ApiError to have its field errors shown beside the fields. */
  onSave: (spec: TaskSpec) => Promise<unknown>;
  /** Called instead of showing an error when the save answered 412 (someone else changed the task). */
  onConflict?: (spec: TaskSpec) => void;
  onCancel?: () => void;
  /** Shown above the form (e.g. a conflict notice). */
  banner?: ReactNode;
  previewDelayMs?: number;
}

const numberChange = (next: string | number): NumberField => (typeof next === "number" ? next : next === "" ? "" : Number(next));

/** The form for a task. To load other values (e.g. "load their version"), mount it again with a new key. */
export function TaskForm({ initialValues, submitLabel, onSave, onConflict, onCancel, banner, previewDelayMs }: TaskFormProps) {
  const form = useForm<TaskFormValues>({ mode: "controlled", initialValues, validate: validateTask, validateInputOnBlur: false });
  const [general, setGeneral] = useState<string[]>([]);
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    if (!form.isDirty()) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  });

  const submit = form.onSubmit(
    async (values) => {
      setGeneral([]);
      const spec = specFromValues(values);
      setSaving(true);
      try {
        await onSave(spec);
        form.resetDirty();
      } catch (error) {
        if (error instanceof ApiError && error.status === 412 && onConflict) {
          onConflict(spec);
        } else if (error instanceof ApiError) {
          const { fields, general: rest } = mapApiErrors(error.fieldErrors);
          form.setErrors(fields);
          const first = Object.keys(fields)[0];
          if (first) focusField(first);
          if (rest.length || !Object.keys(fields).length) setGeneral([error.message, ...rest]);
        } else {
          setGeneral([error instanceof Error ? error.message : String(error)]);
        }
      } finally {
        setSaving(false);
      }
    },
    (errors) => {
      const first = Object.keys(errors)[0];
      if (first) focusField(first);
    },
  );

  const num = (path: string) => {
    const props = form.getInputProps(path);
    return { ...props, onChange: (next: string | number) => form.setFieldValue(path, numberChange(next) as never) };
  };

  return (
    <form onSubmit={submit} noValidate aria-label="Task">
      <Stack gap="md">
        {banner}
        {general.length > 0 && (
          <Alert color="red" icon={<IconAlertTriangle aria-hidden />} title="Not saved" role="alert" data-testid="form-error">
            <List size="sm">
              {general.map((message) => (
                <List.Item key={message}>{message}</List.Item>
              ))}
            </List>
          </Alert>
        )}
        <Card withBorder>
          <Title order={2} size="h4" mb="sm">
            Basics
          </Title>
          <Stack gap="sm">
            <TextInput label="Name" required autoComplete="off" data-field="name" {...form.getInputProps("name")} />
            <Textarea label="Description" autosize minRows={2} data-field="description" {...form.getInputProps("description")} />
            <Grid gutter="sm">
              <Grid.Col span={{ base: 12, sm: 8 }}>
                <TagsInput label="Tags" description="Press Enter after each tag." data-field="tags" clearable {...form.getInputProps("tags")} />
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 4 }} pt={{ sm: 40 }}>
                <Switch label="Enabled (fires on schedule)" {...form.getInputProps("enabled", { type: "checkbox" })} />
              </Grid.Col>
            </Grid>
          </Stack>
        </Card>

        <Card withBorder>
          <Title order={2} size="h4" mb="sm">
            What to run
          </Title>
          <ActionEditor form={form} />
        </Card>

        <Card withBorder>
          <Title order={2} size="h4" mb="sm">
            When to run
          </Title>
          <ScheduleEditor
            value={form.values.schedule}
            onChange={(schedule) => {
              form.setFieldValue("schedule", schedule);
              // Typing clears the stale errors of the schedule fields.
              const cleared = Object.fromEntries(Object.entries(form.errors).filter(([path]) => !path.startsWith("schedule")));
              if (Object.keys(cleared).length !== Object.keys(form.errors).length) form.setErrors(cleared);
            }}
            errors={Object.fromEntries(Object.entries(form.errors).map(([path, message]) => [path, message ? String(message) : undefined]))}
            previewDelayMs={previewDelayMs}
          />
        </Card>

        <Card withBorder>
          <Title order={2} size="h4" mb="sm">
            How to run
          </Title>
          <Grid gutter="sm">
            <Grid.Col span={{ base: 12, sm: 4 }}>
              <NumberInput label="Timeout (seconds)" description="Empty for none." min={0} {...num("timeout_seconds")} />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 4 }}>
              <Select
                label="If the previous run is still active"
                allowDeselect={false}
                data={[
                  { value: "forbid", label: "Skip this slot (forbid)" },
                  { value: "allow", label: "Run both (allow)" },
                  { value: "replace", label: "Cancel the old run (replace)" },
                ]}
                {...form.getInputProps("concurrency_policy")}
              />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 4 }}>
              <Select
                label="After downtime (missed slots)"
                allowDeselect={false}
                data={[
                  { value: "run_once", label: "Run once for all missed" },
                  { value: "skip", label: "Skip them" },
                  { value: "run_all", label: "Run each (bounded)" },
                ]}
                {...form.getInputProps("misfire_policy")}
              />
            </Grid.Col>
            <Grid.Col span={{ base: 6, sm: 4 }}>
              <NumberInput label="Misfire grace (seconds)" min={0} {...num("misfire_grace_seconds")} />
            </Grid.Col>
            <Grid.Col span={{ base: 6, sm: 4 }}>
              <NumberInput label="Priority" description="Higher runs first." min={-1000} max={1000} allowDecimal={false} {...num("priority")} />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 4 }}>
              <TextInput label="Queue" {...form.getInputProps("queue")} />
            </Grid.Col>
          </Grid>
          <Title order={3} size="h5" mt="md" mb="xs">
            Retries
          </Title>
          <Grid gutter="sm">
            <Grid.Col span={{ base: 6, sm: "auto" }}>
              <NumberInput label="Attempts in all" min={1} max={100} allowDecimal={false} {...num("retry.max_attempts")} />
            </Grid.Col>
            <Grid.Col span={{ base: 6, sm: "auto" }}>
              <NumberInput label="First delay (s)" min={0} {...num("retry.backoff_seconds")} />
            </Grid.Col>
            <Grid.Col span={{ base: 6, sm: "auto" }}>
              <NumberInput label="Factor" min={1} {...num("retry.backoff_factor")} />
            </Grid.Col>
            <Grid.Col span={{ base: 6, sm: "auto" }}>
              <NumberInput label="Max delay (s)" min={0} {...num("retry.max_backoff_seconds")} />
            </Grid.Col>
            <Grid.Col span={{ base: 6, sm: "auto" }}>
              <NumberInput label="Jitter (0–1)" min={0} max={1} step={0.05} decimalScale={2} {...num("retry.jitter")} />
            </Grid.Col>
          </Grid>
        </Card>

        <Card withBorder>
          <Title order={2} size="h4" mb="sm">
            Notifications
          </Title>
          <Stack gap="sm">
            <SegmentedControl
              aria-label="Which notification rules"
              value={form.values.notifyMode}
              onChange={(next) => form.setFieldValue("notifyMode", next as TaskFormValues["notifyMode"])}
              data={[
                { value: "global", label: "Follow the global rules" },
                { value: "own", label: "Rules of its own" },
              ]}
              w="fit-content"
            />
            {form.values.notifyMode === "own" ? (
              <RulesFields
                value={form.values.notify}
                onChange={(next) => form.setFieldValue("notify", next)}
                errors={Object.fromEntries(
                  Object.entries(form.errors)
                    .filter(([path]) => path.startsWith("notify."))
                    .map(([path, message]) => [path.slice("notify.".length), message ? String(message) : undefined]),
                )}
                pathPrefix="notify."
              />
            ) : (
              <Text size="sm">The rules on the Notifications page apply. Channels there say where notices go.</Text>
            )}
          </Stack>
        </Card>

        <Group justify="flex-end" pos="sticky" bottom={0} py="sm" bg="var(--mantine-color-body)" style={{ zIndex: 2, borderTop: "1px solid var(--mantine-color-default-border)" }}>
          {onCancel && (
            <Button variant="default" onClick={onCancel}>
              Cancel
            </Button>
          )}
          <Button type="submit" loading={saving}>
            {submitLabel}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

/** Move keyboard focus (and the view) to the first field with an error. */
function focusField(path: string) {
  window.setTimeout(() => {
    const byName = document.querySelector<HTMLElement>(`[data-path="${path}"]`) ?? document.querySelector<HTMLElement>(`[data-field="${path}"]`);
    const input = document.querySelector<HTMLElement>('[aria-invalid="true"]');
    const target = byName ?? input;
    target?.focus();
    target?.scrollIntoView?.({ block: "center" });
  }, 0);
}
