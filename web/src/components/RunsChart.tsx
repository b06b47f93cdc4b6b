import { BarChart } from "@mantine/charts";
import "@mantine/charts/styles.css";
import type { BucketStatus, HourBucket } from "../api/types";
import { STATUS_COLORS, statusLabel } from "../lib/format";

// Buckets count finished runs only.
const SHOWN: BucketStatus[] = ["succeeded", "failed", "timed_out", "cancelled", "skipped"];
const hourFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

export default function RunsChart({ buckets }: { buckets: HourBucket[] }) {
  const present = SHOWN.filter((status) => buckets.some((bucket) => bucket[status] > 0));
  const series = (present.length ? present : (["succeeded", "failed"] as BucketStatus[])).map((status) => ({
    name: status,
    label: statusLabel(status),
    color: `${STATUS_COLORS[status]}.6`,
  }));
  const data = buckets.map((bucket) => {
    const row: Record<string, string | number> = { hour: hourFormat.format(new Date(bucket.hour)) };
    for (const { name } of series) row[name] = bucket[name];
    return row;
  });
  const total = buckets.reduce((acc, bucket) => acc + SHOWN.reduce((s, status) => s + bucket[status], 0), 0);
  return (
    <figure style={{ margin: 0 }} aria-label={`Bar chart of runs per hour by status; ${total} runs in 24 hours`}>
      <BarChart h={220} data={data} dataKey="hour" type="stacked" series={series} withLegend tickLine="y" gridAxis="y" />
    </figure>
  );
}
