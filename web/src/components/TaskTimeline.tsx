import { Anchor, Group, SegmentedControl, Skeleton, Stack, Text } from "@mantine/core";
import { useEffect, useState } from "react";
import { Link, useNavigate } from "react-router";
import { useRunSpans } from "../api/spans";
import { DAY, HOUR, MINUTE } from "../timeline/layout";
import { QueryError } from "./QueryError";
import { TimelineCanvas } from "./TimelineCanvas";

const RANGES: Record<string, number> = { "1h": HOUR, "24h": DAY, "7d": 7 * DAY };

/** One task's runs on the timeline (the task page's "runs per task"): the last hour, day or week,
 * live; the whole timeline, filtered to this task, one click away. */
export default function TaskTimeline({ taskId }: { taskId: number }) {
  const [range, setRange] = useState("24h");
  const navigate = useNavigate();
  const [clock, setClock] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setClock(Date.now()), 15_000);
    return () => clearInterval(timer);
  }, []);
  // Ending at the next whole minute, as the timeline page's live window does.
  const to = Math.ceil(clock / MINUTE) * MINUTE;
  const from = to - (RANGES[range] ?? DAY);
  const spans = useRunSpans({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), task_id: taskId }, true);
  const data = spans.data;
  return (
    <Stack gap="xs" data-testid="task-timeline">
      <Group gap="sm" wrap="wrap">
        <SegmentedControl
          aria-label="Timeline window"
          size="xs"
          value={range}
          onChange={setRange}
          data={[
            { value: "1h", label: "Hour" },
            { value: "24h", label: "Day" },
            { value: "7d", label: "Week" },
          ]}
        />
        <Text size="sm" data-testid="task-timeline-count">
          {data ? `${data.id.length} runs` : ""}
        </Text>
        <Anchor component={Link} to={`/timeline?task_id=${taskId}&range=${range}`} size="sm">
          Open in the timeline
        </Anchor>
      </Group>
      {spans.isError ? (
        <QueryError error={spans.error} retry={() => void spans.refetch()} />
      ) : !data ? (
        <Skeleton h={60} />
      ) : data.id.length === 0 ? (
        <Text size="sm" c="dimmed" data-testid="task-timeline-empty">
          No runs in this window.
        </Text>
      ) : (
        <TimelineCanvas
          spans={data}
          mode="overall"
          from={from}
          to={to}
          onOpen={(runId, newTab) => {
            if (newTab) window.open(`/runs/${runId}`, "_blank", "noopener");
            else void navigate(`/runs/${runId}`);
          }}
        />
      )}
    </Stack>
  );
}
