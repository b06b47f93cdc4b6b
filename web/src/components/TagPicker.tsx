import { MultiSelect } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useState } from "react";
import { useTagSuggestions } from "../api/queries";
import { tagOptions } from "../lib/tags";

/**
 * A choice of tags to filter by: as one types, the server suggests the tags in use that start with it
 * (GET /api/tags?q=…), each with how many tasks carry it. Several picked: tasks carrying all of them.
 */
export function TagPicker({ value, onChange, w = 280 }: { value: string[]; onChange: (tags: string[]) => void; w?: number }) {
  const [search, setSearch] = useState("");
  const [debounced] = useDebouncedValue(search.trim(), 200);
  const found = useTagSuggestions(debounced);
  const suggested = found.data ?? [];
  const { options, counts } = tagOptions(suggested, value);
  return (
    <MultiSelect
      label="Tags"
      placeholder={value.length ? undefined : "any"}
      w={w}
      searchable
      clearable
      hidePickedOptions
      // The list is drawn when opened (Mantine keeps it mounted, hidden, by default): a closed
      // picker on the first page then costs its paint no list, scroll area or portal.
      comboboxProps={{ keepMounted: false }}
      data={options}
      value={value}
      onChange={onChange}
      searchValue={search}
      onSearchChange={setSearch}
      // The server has filtered already (by prefix, any case): show what it answered.
      filter={({ options: all }) => all}
      renderOption={({ option }) => (
        <span className="tag-option">
          <span>{option.label}</span>{" "}
          {counts.has(option.value) && (
            <span className="tag-option-count" data-testid="tag-count">
              {counts.get(option.value)?.toLocaleString()}
              <span className="sr-only"> {counts.get(option.value) === 1 ? "task" : "tasks"}</span>
            </span>
          )}
        </span>
      )}
      nothingFoundMessage={found.isFetching ? "Searching…" : "No tag starts with that"}
      data-testid="tag-picker"
    />
  );
}
