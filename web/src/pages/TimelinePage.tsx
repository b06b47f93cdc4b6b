import { Alert, Badge, Button, CloseButton, Group, SegmentedControl, Skeleton, Stack, Text } from "@mantine/core";
import { useEffect, useState } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { useRunSpans } from "../api/spans";
import { PageTitle } from "../components/PageTitle";
import { QueryError } from "../components/QueryError";
import { TimelineCanvas } from "../components/TimelineCanvas";
import { formatDateTime, STATUS_COLORS, statusLabel } from "../lib/format";
import { DAY, HOUR, MAX_WINDOW, MIN_WINDOW, MINUTE, zoomWindow, FINAL, type TimelineMode } from "../timeline/layout";

const RANGES: Record<string, number> = { "1h": HOUR, "6h": 6 * HOUR, "24h": DAY, "7d": 7 * DAY };

/** The window the URL names: `from`/`to` (a fixed window), or `range` ending now (the default: an hour). */
function windowOf(search: URLSearchParams, now: number): { from: number; to: number; live: boolean; range?: string } {
  const from = Date.parse(search.get("from") ?? "");
  const to = Date.parse(search.get("to") ?? "");
  if (Number.isFinite(from) && Number.isFinite(to) && to - from >= MIN_WINDOW && to - from <= MAX_WINDOW) {
    return { from, to, live: false };
  }
  const range = search.get("range") ?? "1h";
  const width = RANGES[range] ?? HOUR;
  // Ending at the next whole minute: the query stays the same for a minute instead of every second.
  const end = Math.ceil(now / MINUTE) * MINUTE;
  return { from: end - width, to: end, live: true, range: RANGES[range] ? range : "1h" };
}

function useMinuteClock(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 15_000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

export default function TimelinePage() {
  const [search, setSearch] = useSearchParams();
  const navigate = useNavigate();
  const clock = useMinuteClock();
  const view = windowOf(search, clock);
  const mode: TimelineMode = search.get("mode") === "overall" ? "overall" : "task";
  const rawTask = Number(search.get("task_id"));
  const taskId = Number.isInteger(rawTask) && rawTask > 0 ? rawTask : undefined;
  const spans = useRunSpans({ from: new Date(view.from).toISOString(), to: new Date(view.to).toISOString(), task_id: taskId }, view.live);

  const update = (change: Record<string, string | null>) => {
    const next = new URLSearchParams(search);
    for (const [key, value] of Object.entries(change)) {
      if (value === null) next.delete(key);
      else next.set(key, value);
    }
    setSearch(next, { replace: true });
  };
  const fixed = (from: number, to: number) => {
    // A live window ends at the minute after the page's clock, which ticks every 15 s and so may lag the real
    // one across a minute boundary: a window ending within a minute of now has reached it.
    if (to >= Date.now() - MINUTE) {
      // Reaching now again: back to a live window of about that width.
      const width = to - from;
      const range = Object.entries(RANGES).find(([, w]) => w >= width)?.[0] ?? "7d";
      update({ from: null, to: null, range });
      return;
    }
    update({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), range: null });
  };
  const zoom = (factor: number, center?: number) => {
    const next = zoomWindow(view.from, view.to, factor, center);
    fixed(next.from, Math.min(next.to, view.live && factor < 1 ? view.to : next.to));
  };
  const shift = (share: number) => {
    const width = view.to - view.from;
    fixed(view.from + width * share, view.to + width * share);
  };

  const data = spans.data;
  const taskName = taskId !== undefined ? data?.tasks.find((t) => t.id === taskId)?.name : undefined;
  return (
    <Stack gap="sm">
      <PageTitle title="Timeline" />
      <Group gap="sm" wrap="wrap">
        <SegmentedControl
          aria-label="Window"
          size="xs"
          value={view.live ? (view.range ?? "1h") : ""}
          onChange={(value) => update({ range: value, from: null, to: null })}
          data={[
            { value: "1h", label: "Hour" },
            { value: "6h", label: "6 hours" },
            { value: "24h", label: "Day" },
            { value: "7d", label: "Week" },
          ]}
        />
        <Button.Group>
          <Button size="xs" variant="default" onClick={() => shift(-0.5)}>
            Earlier
          </Button>
          <Button size="xs" variant="default" onClick={() => zoom(0.5)} disabled={view.to - view.from <= MIN_WINDOW}>
            Zoom in
          </Button>
          <Button size="xs" variant="default" onClick={() => zoom(2)} disabled={view.to - view.from >= MAX_WINDOW}>
            Zoom out
          </Button>
          <Button size="xs" variant="default" onClick={() => shift(0.5)} disabled={view.live}>
            Later
          </Button>
        </Button.Group>
        <SegmentedControl
          aria-label="Rows"
          size="xs"
          value={mode}
          onChange={(value) => update({ mode: value === "overall" ? "overall" : null })}
          data={[
            { value: "task", label: "By task" },
            { value: "overall", label: "All runs" },
          ]}
        />
        {taskId !== undefined && (
          <Badge
            variant="light"
            size="lg"
            rightSection={<CloseButton size="xs" aria-label="Show every task" onClick={() => update({ task_id: null })} />}
          >
            Task: {taskName ?? `#${taskId}`}
          </Badge>
        )}
      </Group>
      <Text size="sm" data-testid="timeline-window">
        {formatDateTime(new Date(view.from).toISOString(), undefined, false)} – {formatDateTime(new Date(view.to).toISOString(), undefined, false)}
        {view.live ? " (live)" : ""}
        {data ? ` · ${data.id.length} runs` : ""}
      </Text>
      {data?.truncated && (
        <Alert color="yellow" variant="light" title="Not every run is shown" data-testid="timeline-truncated">
          More than {data.limit.toLocaleString()} runs overlap this window; the latest are drawn. Zoom in or pick a task to see them all.
        </Alert>
      )}
      {spans.isError ? (
        <QueryError error={spans.error} retry={() => void spans.refetch()} />
      ) : !data ? (
        <Skeleton h={300} />
      ) : data.id.length === 0 ? (
        <Text c="dimmed" data-testid="timeline-empty">
          No runs in this window.
        </Text>
      ) : (
        <TimelineCanvas
          spans={data}
          mode={mode}
          from={view.from}
          to={view.to}
          onOpen={(runId, newTab) => {
            if (newTab) window.open(`/runs/${runId}`, "_blank", "noopener");
            else void navigate(`/runs/${runId}`);
          }}
          onPickTask={(id) => update({ task_id: String(id) })}
          onZoom={zoom}
        />
      )}
      <Group gap="md" aria-label="Legend">
        <Group gap={6}>
          <span style={{ display: "inline-block", width: 18, height: 4, background: "var(--mantine-color-gray-4)" }} />
          <Text size="xs">waiting in the queue</Text>
        </Group>
        {(["running", ...FINAL] as const).map((status) => (
          <Group gap={6} key={status}>
            <span style={{ display: "inline-block", width: 12, height: 12, background: `var(--mantine-color-${STATUS_COLORS[status]}-7)` }} />
            <Text size="xs">{statusLabel(status)}</Text>
          </Group>
        ))}
        <Text size="xs">A dark left edge marks a retry. Ctrl + wheel zooms; click a task&apos;s name to show only it.</Text>
      </Group>
    </Stack>
  );
}
