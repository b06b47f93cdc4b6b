// The timeline's data: GET /api/runs/spans for a window. Not one of the keys live events invalidate
// (ten thousand spans on every run event would be too much): a window ending now polls instead.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { call, http } from "./client";

export interface SpansParams {
  from: string;
  to: string;
  task_id?: number;
}

export function useRunSpans(params: SpansParams, live: boolean) {
  return useQuery({
    queryKey: ["timeline", params] as const,
    queryFn: ({ signal }) => call(http.GET("/api/runs/spans", { params: { query: params }, signal })),
    placeholderData: keepPreviousData,
    refetchInterval: live ? 30_000 : false,
  });
}
