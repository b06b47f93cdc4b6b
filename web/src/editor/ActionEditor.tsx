import { Alert, Grid, SegmentedControl, Select, Stack, Switch, Text, Textarea, TextInput } from "@mantine/core";
import { MONO } from "./mono";
import type { UseFormReturnType } from "@mantine/form";
import type { HttpMethod } from "../api/types";
import { KeyValueEditor } from "./KeyValueEditor";
import type { ActionValues, BodyMode, TaskFormValues } from "./taskForm";

const METHODS: HttpMethod[] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

export function ActionEditor({ form }: { form: UseFormReturnType<TaskFormValues> }) {
  const action = form.values.action;
  const errors = form.errors;
  return (
    <Stack gap="sm">
      <div>
        <Text size="sm" fw={500} id="action-type-label" mb={4}>
          Action type
        </Text>
        <SegmentedControl
          aria-labelledby="action-type-label"
          data={[
            { value: "http", label: "HTTP request" },
            { value: "shell", label: "Shell command" },
            { value: "python", label: "Python function" },
          ]}
          {...form.getInputProps("action.type")}
          onChange={(value) => form.setFieldValue("action.type", value as ActionValues["type"])}
        />
      </div>

      {action.type === "http" && (
        <>
          <Grid gutter="sm">
            <Grid.Col span={{ base: 12, sm: 3 }}>
              <Select label="Method" data={METHODS} allowDeselect={false} {...form.getInputProps("action.method")} />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 9 }}>
              <TextInput label="URL" placeholder="https://example.com/hooks/nightly" required autoComplete="off" spellCheck={false} {...form.getInputProps("action.url")} />
            </Grid.Col>
          </Grid>
          <KeyValueEditor
            label="Headers"
            path="action.headers"
            keyLabel="Header"
            valueLabel="Value"
            secretValues
            description="Values are write-only: a stored value stays hidden and is kept until you replace it."
            value={action.headers}
            onChange={(next) => form.setFieldValue("action.headers", next)}
            errors={errors}
          />
          <Stack gap={4}>
            <Text size="sm" fw={500} id="body-mode-label">
              Body
            </Text>
            <SegmentedControl
              aria-labelledby="body-mode-label"
              size="xs"
              w="fit-content"
              data={[
                { value: "none", label: "None" },
                { value: "text", label: "Text" },
                { value: "json", label: "JSON" },
              ]}
              value={action.bodyMode}
              onChange={(value) => form.setFieldValue("action.bodyMode", value as BodyMode)}
            />
            {action.bodyMode !== "none" && (
              <Textarea
                aria-label="Request body"
                autosize
                minRows={3}
                maxRows={12}
                styles={MONO}
                spellCheck={false}
                placeholder={action.bodyMode === "json" ? '{"report": "nightly"}' : "text sent as is"}
                {...form.getInputProps("action.body")}
              />
            )}
            {action.bodyMode === "none" && errors["action.body"] && (
              <Text c="red" size="sm">
                {errors["action.body"]}
              </Text>
            )}
          </Stack>
          <Grid gutter="sm">
            <Grid.Col span={{ base: 12, sm: 6 }}>
              <TextInput label="Success status codes" description="Comma-separated; empty means any 2xx." placeholder="200, 204" {...form.getInputProps("action.expect_status")} />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 6 }} pt={{ sm: 34 }}>
              <Switch label="Follow redirects" {...form.getInputProps("action.follow_redirects", { type: "checkbox" })} />
            </Grid.Col>
          </Grid>
        </>
      )}

      {action.type === "shell" && (
        <>
          <Alert color="gray" p="xs">
            Shell actions run only when the server enables them. The command runs directly, never through a shell: put the
            program and each argument on its own line.
          </Alert>
          <Textarea
            label="Command"
            description="One argument per line, the program first."
            placeholder={"/usr/bin/env\necho\nhello"}
            autosize
            minRows={3}
            styles={MONO}
            spellCheck={false}
            required
            {...form.getInputProps("action.command")}
          />
          <TextInput label="Working directory" placeholder="(the worker's)" {...form.getInputProps("action.cwd")} />
          <KeyValueEditor
            label="Environment"
            path="action.env"
            keyLabel="Variable"
            valueLabel="Value"
            secretValues
            description="Values are write-only: a stored value stays hidden and is kept until you replace it."
            value={action.env}
            onChange={(next) => form.setFieldValue("action.env", next)}
            errors={errors}
          />
        </>
      )}

      {action.type === "python" && (
        <>
          <TextInput
            label="Function"
            description="The name it was registered under with @task in a module the worker imports."
            placeholder="reports.nightly"
            required
            spellCheck={false}
            {...form.getInputProps("action.function")}
          />
          <Grid gutter="sm">
            <Grid.Col span={{ base: 12, sm: 6 }}>
              <Textarea label="Arguments" description="A JSON array." styles={MONO} autosize minRows={2} spellCheck={false} {...form.getInputProps("action.args")} />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 6 }}>
              <Textarea label="Keyword arguments" description="A JSON object." styles={MONO} autosize minRows={2} spellCheck={false} {...form.getInputProps("action.kwargs")} />
            </Grid.Col>
          </Grid>
        </>
      )}
    </Stack>
  );
}
