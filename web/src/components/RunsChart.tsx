import { BarChart } from "@mantine/charts";
import "@mantine/charts/styles.css";
import { useRef } from "react";
import type { BucketStatus, ChartBucket, RunsChartData } from "../api/types";
import { STATUS_COLORS, statusLabel } from "../lib/format";

// Bars count finished runs only.
const SHOWN: BucketStatus[] = ["succeeded", "failed", "timed_out", "cancelled", "skipped"];
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

export interface BarTarget {
  start: string;
  end: string;
  /** The status of the part of the bar clicked; undefined: the whole bar (every final status). */
  status?: BucketStatus;
}

interface Row {
  at: string;
  start: string;
  end: string;
  [status: string]: string | number;
}

/** Stacked bars of runs finished per minute or per hour; clicking a bar (or one status of it) opens those runs. */
export default function RunsChart({ chart, onOpen }: { chart: RunsChartData; onOpen?: (target: BarTarget) => void }) {
  const buckets: ChartBucket[] = chart.buckets;
  const present = SHOWN.filter((status) => buckets.some((bucket) => bucket[status] > 0));
  const series = (present.length ? present : (["succeeded", "failed"] as BucketStatus[])).map((status) => ({
    name: status,
    label: statusLabel(status),
    color: `${STATUS_COLORS[status]}.6`,
  }));
  const data: Row[] = buckets.map((bucket) => {
    const row: Row = { at: timeFormat.format(new Date(bucket.start)), start: bucket.start, end: bucket.end };
    for (const { name } of series) row[name] = bucket[name];
    return row;
  });
  const total = buckets.reduce((acc, bucket) => acc + SHOWN.reduce((s, status) => s + bucket[status], 0), 0);
  const unit = chart.bucket === "minute" ? "minute" : "hour";
  const span = chart.bucket === "minute" ? "the last hour" : "24 hours";
  // A click on one status of a bar also reaches the chart: the chart's own handler then stands back.
  const handled = useRef(false);
  const open = (target: BarTarget) => onOpen?.(target);
  return (
    <figure
      style={{ margin: 0, cursor: onOpen ? "pointer" : undefined }}
      aria-label={`Bar chart of runs per ${unit} by status; ${total} runs in ${span}. Click a bar to open its runs.`}
      data-testid="runs-chart"
      data-bucket={chart.bucket}
    >
      <BarChart
        h={220}
        data={data}
        dataKey="at"
        type="stacked"
        series={series}
        withLegend
        tickLine="y"
        gridAxis="y"
        yAxisProps={{ allowDecimals: false }}
        barProps={(item) => ({
          onClick: (entry: { payload?: Row }) => {
            if (!entry.payload) return;
            handled.current = true;
            open({ start: entry.payload.start, end: entry.payload.end, status: item.name as BucketStatus });
          },
        })}
        barChartProps={{
          onClick: (state: { activeTooltipIndex?: number } | null) => {
            if (handled.current) {
              handled.current = false;
              return;
            }
            const row = state?.activeTooltipIndex !== undefined ? data[state.activeTooltipIndex] : undefined;
            if (row) open({ start: row.start, end: row.end });
          },
        }}
      />
    </figure>
  );
}
