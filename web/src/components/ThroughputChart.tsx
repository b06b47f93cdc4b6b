import { BarChart } from "@mantine/charts";
import "@mantine/charts/styles.css";
import type { Throughput } from "../api/types";
import { STATUS_COLORS } from "../lib/format";

// RunsChart draws one bar per final status; the status page's buckets say finished, succeeded and
// failed (failed + timed out), so "other" (cancelled, skipped) is what remains of finished.
export interface ThroughputBucket extends Throughput {
  at: string;
}

export default function ThroughputChart({ buckets, unit, format }: { buckets: ThroughputBucket[]; unit: string; format: Intl.DateTimeFormat }) {
  const data = buckets.map((bucket) => ({
    at: format.format(new Date(bucket.at)),
    succeeded: bucket.succeeded,
    failed: bucket.failed,
    other: bucket.finished - bucket.succeeded - bucket.failed,
  }));
  const finished = buckets.reduce((total, bucket) => total + bucket.finished, 0);
  const failed = buckets.reduce((total, bucket) => total + bucket.failed, 0);
  return (
    <figure style={{ margin: 0 }} aria-label={`Bar chart of runs finished per ${unit}: ${finished} finished, ${failed} failed`}>
      <BarChart
        h={200}
        data={data}
        dataKey="at"
        type="stacked"
        series={[
          { name: "succeeded", label: "Succeeded", color: `${STATUS_COLORS.succeeded}.6` },
          { name: "failed", label: "Failed or timed out", color: `${STATUS_COLORS.failed}.6` },
          { name: "other", label: "Cancelled or skipped", color: `${STATUS_COLORS.skipped}.6` },
        ]}
        withLegend
        tickLine="y"
        gridAxis="y"
        yAxisProps={{ allowDecimals: false }}
      />
    </figure>
  );
}
