import { Select } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useState } from "react";
import { useMaybeTask, useTaskSearch } from "../api/runs";

/** A searchable choice of one task: the server searches names as one types (GET /api/tasks?q=…). */
export function TaskPicker({ value, onChange, w = 240 }: { value: number | undefined; onChange: (id: number | undefined) => void; w?: number }) {
  const [search, setSearch] = useState("");
  const [debounced] = useDebouncedValue(search, 250);
  const chosen = useMaybeTask(value);
  const chosenName = value !== undefined ? chosen.data?.name : undefined;
  // While the box shows the chosen task's name, list all tasks rather than only that one.
  const found = useTaskSearch(debounced === chosenName ? "" : debounced.trim());
  const options = (found.data?.items ?? []).map((task) => ({ value: String(task.id), label: task.name }));
  if (value !== undefined && !options.some((option) => option.value === String(value)))
    options.unshift({ value: String(value), label: chosenName ?? `task ${value}` });
  return (
    <Select
      label="Task"
      placeholder="Any task"
      w={w}
      searchable
      clearable
      // The list is drawn when opened (Mantine keeps it mounted, hidden, by default): a closed
      // picker on the first page then costs its paint no list, scroll area or portal.
      comboboxProps={{ keepMounted: false }}
      data={options}
      value={value !== undefined ? String(value) : null}
      searchValue={search}
      onSearchChange={setSearch}
      // The server has filtered already (by name or description): show what it answered.
      filter={({ options: all }) => all}
      nothingFoundMessage={found.isFetching ? "Searching…" : "No task matches"}
      onChange={(next) => onChange(next ? Number(next) : undefined)}
    />
  );
}
