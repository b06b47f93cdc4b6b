import { Alert, Anchor, Button, Group, Paper, SegmentedControl, SimpleGrid, Skeleton, Stack, Text, TextInput, Title } from "@mantine/core";
import { IconChevronLeft, IconChevronRight, IconInfoCircle } from "@tabler/icons-react";
import { Link, useSearchParams } from "react-router";
import { useUpcoming } from "../api/queries";
import type { UpcomingRun } from "../api/types";
import { PageTitle } from "../components/PageTitle";
import { QueryError } from "../components/QueryError";
import { browserTimeZone, formatUtc } from "../lib/format";
import { addDays, byDay, byHour, clockTime, dateKey, parseDateKey, sameWallClock, viewDays, viewWindow, type UpcomingView } from "../lib/upcoming";

const LIMITS: Record<UpcomingView, number> = { day: 2000, week: 5000 };
/** Runs listed per hour (day view) and per day (week view) before "N more". */
const SHOWN_PER_HOUR = 60;
const SHOWN_PER_DAY = 25;

const runs = (count: number) => `${count} ${count === 1 ? "run" : "runs"}`;

const dayHeading = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
const columnHeading = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });

/** One upcoming run: the time in the viewer's zone, the task, and the task's own zone when it reads
 * differently. It wraps rather than clips in a narrow week column. */
function RunLine({ item }: { item: UpcomingRun }) {
  const other = !sameWallClock(item.at, item.timezone, browserTimeZone);
  return (
    <div data-testid="upcoming-run" style={{ display: "flex", flexWrap: "wrap", alignItems: "baseline", columnGap: 6, minWidth: 0 }}>
      <Text span size="sm" fw={500} style={{ fontVariantNumeric: "tabular-nums", whiteSpace: "nowrap" }}>
        <time dateTime={item.at} title={formatUtc(item.at)}>
          {clockTime(item.at)}
        </time>
      </Text>
      <Anchor component={Link} to={`/tasks/${item.task_id}`} size="sm" style={{ overflowWrap: "anywhere", minWidth: 0 }}>
        {item.task_name}
      </Anchor>
      {other && (
        <Text span size="xs" data-testid="task-zone-time" title={`The task's zone: ${item.timezone}`} style={{ overflowWrap: "anywhere" }}>
          ({clockTime(item.at, item.timezone)} {item.timezone})
        </Text>
      )}
    </div>
  );
}

function More({ count, to }: { count: number; to?: string }) {
  if (count <= 0) return null;
  return (
    <Text size="sm" c="dimmed">
      {to ? (
        <Anchor component={Link} to={to}>
          and {count} more
        </Anchor>
      ) : (
        `and ${count} more`
      )}
    </Text>
  );
}

function DayView({ items }: { items: UpcomingRun[] }) {
  const hours = byHour(items);
  if (!hours.length) return <Text c="dimmed">Nothing is scheduled to fire on this day.</Text>;
  return (
    <Stack gap="sm" data-testid="upcoming-day">
      {hours.map((hour) => (
        <Paper key={hour.start.toISOString()} withBorder p="sm" radius="md" role="group" aria-label={`${clockTime(hour.start.toISOString())}: ${runs(hour.items.length)}`}>
          <Group gap="xs" mb={4}>
            <Title order={3} size="h5">
              {clockTime(hour.start.toISOString())}
            </Title>
            <Text size="sm" c="dimmed">
              {runs(hour.items.length)}
            </Text>
          </Group>
          <Stack gap={2}>
            {hour.items.slice(0, SHOWN_PER_HOUR).map((item) => (
              <RunLine key={`${item.task_id}-${item.at}`} item={item} />
            ))}
            <More count={hour.items.length - SHOWN_PER_HOUR} />
          </Stack>
        </Paper>
      ))}
    </Stack>
  );
}

function WeekView({ days, items, tag }: { days: Date[]; items: UpcomingRun[]; tag: string }) {
  const groups = byDay(items);
  const today = dateKey(new Date());
  return (
    <SimpleGrid cols={{ base: 1, sm: 2, md: 4, lg: 7 }} spacing="xs" data-testid="upcoming-week">
      {days.map((day) => {
        const key = dateKey(day);
        const dayItems = groups.get(key) ?? [];
        const dayLink = `/upcoming?view=day&date=${key}${tag ? `&tag=${encodeURIComponent(tag)}` : ""}`;
        return (
          <Paper key={key} withBorder p="xs" radius="md" role="group" aria-label={`${dayHeading.format(day)}: ${runs(dayItems.length)}`} data-testid="upcoming-column" style={{ minWidth: 0 }}>
            <Group justify="space-between" gap={4} mb={4} wrap="nowrap">
              <Anchor component={Link} to={dayLink} fw={key === today ? 700 : 500} size="sm">
                {columnHeading.format(day)}
              </Anchor>
              <Text size="xs" c="dimmed">
                {dayItems.length}
              </Text>
            </Group>
            <Stack gap={2}>
              {dayItems.slice(0, SHOWN_PER_DAY).map((item) => (
                <RunLine key={`${item.task_id}-${item.at}`} item={item} />
              ))}
              <More count={dayItems.length - SHOWN_PER_DAY} to={dayLink} />
              {!dayItems.length && (
                <Text size="xs" c="dimmed">
                  nothing
                </Text>
              )}
            </Stack>
          </Paper>
        );
      })}
    </SimpleGrid>
  );
}

/** What will fire across all enabled tasks, by day (grouped by hour) or by week (a column a day). */
export function UpcomingPage() {
  const [search, setSearch] = useSearchParams();
  const view: UpcomingView = search.get("view") === "week" ? "week" : "day";
  const date = parseDateKey(search.get("date"));
  const tag = search.get("tag") ?? "";
  const days = viewDays(view, date);
  const span = viewWindow(view, date);
  const query = useUpcoming({ ...span, limit: LIMITS[view], tag: tag || undefined });

  const go = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(search);
    for (const [name, value] of Object.entries(changes)) {
      if (value) next.set(name, value);
      else next.delete(name);
    }
    setSearch(next, { replace: true });
  };
  const step = view === "day" ? 1 : 7;
  const first = days[0] ?? date;
  const last = days[days.length - 1] ?? date;
  const range = view === "day" ? dayHeading.format(first) : `${columnHeading.format(first)} – ${columnHeading.format(last)}`;
  const items = query.data?.items ?? [];

  return (
    <Stack gap="sm">
      <PageTitle title="Upcoming runs">
        <SegmentedControl
          aria-label="Calendar view"
          data={[
            { value: "day", label: "Day" },
            { value: "week", label: "Week" },
          ]}
          value={view}
          onChange={(value) => go({ view: value === "week" ? "week" : null })}
        />
      </PageTitle>
      <Group gap="xs" wrap="wrap">
        <Button variant="default" size="xs" leftSection={<IconChevronLeft size={14} aria-hidden />} onClick={() => go({ date: dateKey(addDays(date, -step)) })}>
          {view === "day" ? "Previous day" : "Previous week"}
        </Button>
        <Button variant="default" size="xs" onClick={() => go({ date: null })}>
          Today
        </Button>
        <Button variant="default" size="xs" rightSection={<IconChevronRight size={14} aria-hidden />} onClick={() => go({ date: dateKey(addDays(date, step)) })}>
          {view === "day" ? "Next day" : "Next week"}
        </Button>
        <TextInput
          type="date"
          size="xs"
          aria-label="Go to date"
          value={dateKey(date)}
          onChange={(event) => event.currentTarget.value && go({ date: event.currentTarget.value })}
        />
        <TextInput
          size="xs"
          aria-label="Only tasks tagged"
          placeholder="tag"
          defaultValue={tag}
          key={tag}
          onKeyDown={(event) => event.key === "Enter" && go({ tag: event.currentTarget.value.trim() || null })}
          onBlur={(event) => event.currentTarget.value.trim() !== tag && go({ tag: event.currentTarget.value.trim() || null })}
        />
        {query.isFetching && <Text size="xs" c="dimmed">updating…</Text>}
      </Group>
      <Title order={2} size="h4" data-testid="upcoming-range">
        {range}
      </Title>
      <Text size="sm" c="dimmed" data-testid="upcoming-zone">
        Times in your zone ({browserTimeZone}); a task whose zone reads differently shows its own time and zone beside. Enabled
        tasks only; times are slots (a task with jitter starts up to its jitter later).
      </Text>
      {query.isError ? (
        <QueryError error={query.error} retry={() => void query.refetch()} />
      ) : !query.data ? (
        <Skeleton h={240} />
      ) : (
        <>
          {query.data.truncated && (
            <Alert color="blue" icon={<IconInfoCircle aria-hidden />} data-testid="upcoming-truncated">
              Showing the first {items.length} runs of this {view}; more fall in it{view === "week" ? ": open a day to see them all" : ""}. A tag narrows it down.
            </Alert>
          )}
          {view === "day" ? <DayView items={items} /> : <WeekView days={days} items={items} tag={tag} />}
        </>
      )}
    </Stack>
  );
}

export default UpcomingPage;
