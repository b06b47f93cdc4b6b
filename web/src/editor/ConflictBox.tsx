import { Alert, Badge, Button, Code, Group, Radio, Table, Text } from "@mantine/core";
import { useEffect, useRef, useState } from "react";
import type { TaskSpec } from "../api/types";
import { ScrollX } from "../components/ScrollX";
import { showValue } from "../lib/diff";
import { conflictRows, mergeSpecs, type MergeRow, type Side } from "./merge";
import { MASK } from "./taskForm";

interface Props {
  /** The version the form was loaded from, theirs (now saved), and the spec you tried to save. */
  base: { version: number; spec: TaskSpec };
  theirs: { version: number; spec: TaskSpec } | null;
  yours: TaskSpec;
  saving: boolean;
  onSaveMerged: (spec: TaskSpec) => void;
  onOverwrite: () => void;
  onLoadTheirs: () => void;
}

const WHO: Record<MergeRow["changedBy"], { label: string; color: string }> = {
  theirs: { label: "they changed", color: "blue" },
  yours: { label: "you changed", color: "teal" },
  both: { label: "both changed", color: "orange" },
  "both-same": { label: "both, same value", color: "gray" },
};

function Value({ value }: { value: unknown }) {
  if (value === MASK) return <Text size="sm">(secret, hidden)</Text>;
  return (
    <Code block={false} style={{ whiteSpace: "pre-wrap", wordBreak: "break-word" }}>
      {showValue(value)}
    </Code>
  );
}

/** "Someone else changed this task": their changes and yours field by field, and a merged save. */
export function ConflictBox({ base, theirs, yours, saving, onSaveMerged, onOverwrite, onLoadTheirs }: Props) {
  const [choices, setChoices] = useState<Record<string, Side>>({});
  const box = useRef<HTMLDivElement>(null);
  // Save is pressed at the bottom of a long form: bring the box, which sits above it, to the reader.
  useEffect(() => {
    box.current?.scrollIntoView({ block: "start" });
    box.current?.focus({ preventScroll: true });
  }, []);
  const rows = theirs ? conflictRows(base.spec, theirs.spec, yours) : [];
  const theirOnly = rows.filter((row) => row.changedBy === "theirs").length;
  const clashes = rows.filter((row) => row.changedBy === "both");
  const overwritten = theirOnly + clashes.length;
  return (
    <Alert ref={box} tabIndex={-1} style={{ scrollMarginTop: 72 }} color="orange" title="Someone else changed this task" role="alert" data-testid="conflict">
      <Text size="sm">
        The task was changed since you opened it (you started from version {base.version}
        {theirs ? `, it is now version ${theirs.version}` : ""}). Your changes were not saved, so nothing was overwritten.
        {theirs && rows.length > 0 && " Here is what each side changed:"}
      </Text>
      {theirs && rows.length > 0 && (
        <ScrollX minWidth={720}>
          <Table withTableBorder fz="sm" mt="sm" data-testid="conflict-diff">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Field</Table.Th>
                <Table.Th>Version {base.version} (yours started here)</Table.Th>
                <Table.Th>Theirs (version {theirs.version})</Table.Th>
                <Table.Th>Yours</Table.Th>
                <Table.Th>Keep</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((row) => (
                <Table.Tr key={row.path} data-testid={`conflict-row-${row.path}`}>
                  <Table.Td>
                    <Text size="sm" ff="monospace">
                      {row.path}
                    </Text>
                    <Badge size="xs" variant="light" color={WHO[row.changedBy].color}>
                      {WHO[row.changedBy].label}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Value value={row.base} />
                  </Table.Td>
                  <Table.Td>
                    <Value value={row.theirs} />
                  </Table.Td>
                  <Table.Td>
                    <Value value={row.yours} />
                  </Table.Td>
                  <Table.Td>
                    {row.changedBy === "both" ? (
                      <Radio.Group
                        value={choices[row.path] ?? "yours"}
                        onChange={(side) => setChoices((now) => ({ ...now, [row.path]: side as Side }))}
                        aria-label={`Keep which value of ${row.path}`}
                      >
                        <Group gap="xs">
                          <Radio value="yours" label="yours" />
                          <Radio value="theirs" label="theirs" />
                        </Group>
                      </Radio.Group>
                    ) : (
                      <Text size="sm">{row.changedBy === "yours" ? "yours" : "theirs"}</Text>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </ScrollX>
      )}
      {theirs && rows.length === 0 && (
        <Text size="sm" mt="xs">
          Your version and theirs are the same.
        </Text>
      )}
      <Group mt="sm" gap="xs">
        {theirs && (
          <Button size="xs" onClick={() => onSaveMerged(mergeSpecs(theirs.spec, rows, choices))} loading={saving}>
            {clashes.length ? "Save merged (with the choices above)" : "Save merged (their changes and mine)"}
          </Button>
        )}
        <Button size="xs" variant="light" onClick={onLoadTheirs}>
          Load their version (discard mine)
        </Button>
        <Button size="xs" color="orange" variant="outline" onClick={onOverwrite} loading={saving}>
          Save mine over theirs
        </Button>
      </Group>
      {theirs && overwritten > 0 && (
        <Text size="xs" mt={4} data-testid="overwrite-warning">
          “Save mine over theirs” undoes {overwritten === 1 ? "1 of their changes" : `${overwritten} of their changes`}; “Save merged” keeps {theirOnly === 1 ? "the 1 field" : `the ${theirOnly} fields`} only they changed.
        </Text>
      )}
    </Alert>
  );
}
