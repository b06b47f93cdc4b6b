import { Select, Stack } from "@mantine/core";
import { useSearchParams } from "react-router";
import { RUN_STATUSES, type RunStatus } from "../api/types";
import { PageTitle } from "../components/PageTitle";
import { RunTable } from "../components/RunTable";
import { statusLabel } from "../lib/format";

export function RunsPage() {
  const [search, setSearch] = useSearchParams();
  const raw = search.get("status");
  const status = RUN_STATUSES.includes(raw as RunStatus) ? (raw as RunStatus) : undefined;
  return (
    <Stack>
      <PageTitle title="Runs" />
      <Select
        label="Status"
        w={180}
        data={[{ value: "any", label: "Any" }, ...RUN_STATUSES.map((value) => ({ value, label: statusLabel(value) }))]}
        value={status ?? "any"}
        allowDeselect={false}
        onChange={(value) => setSearch(value && value !== "any" ? { status: value } : {}, { replace: true })}
      />
      <RunTable key={status ?? "any"} status={status} showTask />
    </Stack>
  );
}
