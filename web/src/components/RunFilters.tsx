import { Button, MultiSelect, TextInput } from "@mantine/core";
import { useState } from "react";
import { RUN_STATUSES, type RunStatus, type RunTrigger } from "../api/types";
import { statusLabel } from "../lib/format";
import { activeFilterCount, isIsoTime, RUN_TRIGGERS, type RunFilter } from "../lib/runs";
import { CollapsibleFilters } from "./CollapsibleFilters";
import { TaskPicker } from "./TaskPicker";

/** A text field whose value reaches the filter on Enter or on leaving it (not at every key). */
function CommitField({
  label,
  value,
  placeholder,
  onCommit,
  validate,
  w,
}: {
  label: string;
  value: string | undefined;
  placeholder: string;
  onCommit: (value: string | undefined) => void;
  validate?: (text: string) => string | null;
  w: number;
}) {
  const [draft, setDraft] = useState(value ?? "");
  const [error, setError] = useState<string | null>(null);
  const commit = () => {
    const text = draft.trim();
    const problem = text && validate ? validate(text) : null;
    setError(problem);
    if (!problem && text !== (value ?? "")) onCommit(text || undefined);
  };
  return (
    <TextInput
      label={label}
      placeholder={placeholder}
      w={w}
      value={draft}
      error={error}
      onChange={(event) => setDraft(event.currentTarget.value)}
      onBlur={commit}
      onKeyDown={(event) => {
        if (event.key === "Enter") commit();
      }}
    />
  );
}

const isoProblem = (text: string) => (isIsoTime(text) ? null : "ISO 8601 with an offset, such as 2026-12-01T09:00:00Z");

/** The runs page's filters; every change goes through `onChange` (which puts it in the URL). */
export function RunFilters({ filter, onChange }: { filter: RunFilter; onChange: (next: RunFilter) => void }) {
  const set = (patch: Partial<RunFilter>) => onChange({ ...filter, ...patch });
  const active = activeFilterCount(filter);
  return (
    <CollapsibleFilters label="Filter runs" active={active} data-testid="run-filters">
      <TaskPicker value={filter.task_id} onChange={(task_id) => set({ task_id })} />
      <MultiSelect
        label="Status"
        placeholder={filter.status.length ? undefined : "Any status"}
        w={240}
        data={RUN_STATUSES.map((value) => ({ value, label: statusLabel(value) }))}
        value={filter.status}
        clearable
        onChange={(values) => set({ status: values as RunStatus[] })}
      />
      <MultiSelect
        label="Trigger"
        placeholder={filter.trigger.length ? undefined : "Any trigger"}
        w={220}
        data={RUN_TRIGGERS}
        value={filter.trigger}
        clearable
        onChange={(values) => set({ trigger: values as RunTrigger[] })}
      />
      {/* Remounted when the URL changes them (back, a link): the drafts start from the URL. */}
      <CommitField
        key={`from:${filter.scheduled_from ?? ""}`}
        label="Scheduled from"
        placeholder="2026-12-01T09:00:00Z"
        w={210}
        value={filter.scheduled_from}
        validate={isoProblem}
        onCommit={(scheduled_from) => set({ scheduled_from })}
      />
      <CommitField
        key={`to:${filter.scheduled_to ?? ""}`}
        label="Scheduled before"
        placeholder="2026-12-02T09:00:00Z"
        w={210}
        value={filter.scheduled_to}
        validate={isoProblem}
        onCommit={(scheduled_to) => set({ scheduled_to })}
      />
      {/* Finished when: what the dashboard's bars and cards count by (they link with it). */}
      <CommitField
        key={`ffrom:${filter.finished_from ?? ""}`}
        label="Finished from"
        placeholder="2026-12-01T09:00:00Z"
        w={210}
        value={filter.finished_from}
        validate={isoProblem}
        onCommit={(finished_from) => set({ finished_from })}
      />
      <CommitField
        key={`fto:${filter.finished_to ?? ""}`}
        label="Finished before"
        placeholder="2026-12-02T09:00:00Z"
        w={210}
        value={filter.finished_to}
        validate={isoProblem}
        onCommit={(finished_to) => set({ finished_to })}
      />
      <CommitField
        key={`q:${filter.q ?? ""}`}
        label="Error text"
        placeholder="connection refused"
        w={220}
        value={filter.q}
        validate={(text) => (text.length > 200 ? "At most 200 characters" : null)}
        onCommit={(q) => set({ q })}
      />
      {active > 0 && (
        <Button variant="subtle" mt={25} onClick={() => onChange({ status: [], trigger: [] })}>
          Clear filters
        </Button>
      )}
    </CollapsibleFilters>
  );
}
