import { useDebouncedValue } from "@mantine/hooks";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { ApiError } from "../api/client";
import { previewSchedule } from "../api/queries";
import type { Schedule } from "../api/types";
import { mapApiErrors } from "./taskForm";

export interface PreviewState {
  data: Awaited<ReturnType<typeof previewSchedule>> | undefined;
  /** API errors by form field (e.g. "schedule.expression"), from a 422 answer. */
  fieldErrors: Record<string, string>;
  /** Any other failure, as text. */
  error: string | null;
  loading: boolean;
  /** True while the shown data belongs to an older schedule than the one typed. */
  stale: boolean;
}

/** Ask the server to describe a schedule as the user types (debounced; the last answer stays while typing). */
export function useSchedulePreview(schedule: Schedule | null, enabled: boolean, delayMs = 300): PreviewState {
  const json = schedule ? JSON.stringify(schedule) : "";
  const [debounced] = useDebouncedValue(json, delayMs);
  const query = useQuery({
    queryKey: ["schedulePreview", debounced],
    queryFn: ({ signal }) => previewSchedule(JSON.parse(debounced) as Schedule, signal),
    enabled: enabled && debounced !== "" && debounced === json,
    placeholderData: keepPreviousData,
    retry: false,
    staleTime: 60_000,
  });
  let fieldErrors: Record<string, string> = {};
  let error: string | null = null;
  if (query.error && debounced === json) {
    if (query.error instanceof ApiError && query.error.fieldErrors.length) {
      const mapped = mapApiErrors(query.error.fieldErrors);
      fieldErrors = mapped.fields;
      if (mapped.general.length) error = mapped.general.join(" ");
    } else error = query.error.message;
  }
  const data = query.isError ? undefined : query.data;
  return { data, fieldErrors, error, loading: query.isFetching, stale: debounced !== json || query.isPlaceholderData };
}
