import { ActionIcon, Button, Group, Stack, Text, TextInput } from "@mantine/core";
import { useRef } from "react";
import { IconPlus, IconTrash } from "@tabler/icons-react";
import type { KeyValue } from "./taskForm";

interface Props {
  label: string;
  /** Form path, e.g. "action.headers"; row errors live at `${path}.${index}.key`. */
  path: string;
  value: KeyValue[];
  onChange: (next: KeyValue[]) => void;
  errors: Record<string, React.ReactNode>;
  keyLabel: string;
  valueLabel: string;
  secretValues?: boolean;
  description?: string;
}

export function KeyValueEditor({ label, path, value, onChange, errors, keyLabel, valueLabel, secretValues = false, description }: Props) {
  const update = (index: number, change: Partial<KeyValue>) => onChange(value.map((pair, i) => (i === index ? { ...pair, ...change } : pair)));
  const listError = errors[path];
  const valueInputs = useRef<(HTMLInputElement | null)[]>([]);
  const replace = (index: number) => {
    update(index, { kept: false, value: "" });
    // The field is enabled on the next render; focus it then, so typing goes straight in.
    requestAnimationFrame(() => valueInputs.current[index]?.focus());
  };
  return (
    <Stack gap={6} role="group" aria-label={label}>
      <div>
        <Text size="sm" fw={500}>
          {label}
        </Text>
        {description && (
          <Text size="xs" c="dimmed">
            {description}
          </Text>
        )}
      </div>
      {value.map((pair, index) => (
        <Group key={index} gap="xs" align="flex-start" wrap="nowrap">
          <TextInput
            aria-label={`${keyLabel} ${index + 1}`}
            placeholder={keyLabel}
            value={pair.key}
            // A kept secret is found by its name: renaming it would lose it, so replace it first.
            readOnly={secretValues && pair.kept}
            onChange={(event) => update(index, { key: event.currentTarget.value })}
            error={errors[`${path}.${index}.key`]}
            style={{ flex: 1 }}
            autoComplete="off"
          />
          <TextInput
            ref={(element) => {
              valueInputs.current[index] = element;
            }}
            aria-label={`${valueLabel} ${index + 1}`}
            placeholder={secretValues && pair.kept ? "Stored value kept (hidden)" : valueLabel}
            value={pair.value}
            type={secretValues ? "password" : "text"}
            disabled={secretValues && pair.kept}
            onChange={(event) => update(index, { value: event.currentTarget.value })}
            error={errors[`${path}.${index}.value`]}
            style={{ flex: 2 }}
            autoComplete="off"
            rightSectionWidth={secretValues && pair.kept ? 84 : undefined}
            rightSectionPointerEvents="all"
            rightSection={
              secretValues && pair.kept ? (
                <Button size="compact-xs" variant="light" onClick={() => replace(index)} aria-label={`Replace ${valueLabel.toLowerCase()} ${index + 1}`}>
                  Replace
                </Button>
              ) : undefined
            }
          />
          <ActionIcon variant="subtle" color="red" mt={4} aria-label={`Remove ${keyLabel.toLowerCase()} ${index + 1}`} onClick={() => onChange(value.filter((_, i) => i !== index))}>
            <IconTrash size={16} aria-hidden />
          </ActionIcon>
        </Group>
      ))}
      {listError && (
        <Text c="red" size="sm" role="alert">
          {listError}
        </Text>
      )}
      <Button variant="subtle" size="compact-sm" w="fit-content" leftSection={<IconPlus size={14} aria-hidden />} onClick={() => onChange([...value, { key: "", value: "" }])}>
        Add {keyLabel.toLowerCase()}
      </Button>
    </Stack>
  );
}
