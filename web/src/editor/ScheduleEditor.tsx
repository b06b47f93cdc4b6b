import { Button, Collapse, Grid, Group, NumberInput, SegmentedControl, Select, Stack, Text, TextInput, UnstyledButton } from "@mantine/core";
import { IconChevronDown, IconChevronRight } from "@tabler/icons-react";
import { useMemo, useState } from "react";
import { browserTimeZone, formatUtc, fromZonedInput, timeZones } from "../lib/format";
import { MONO } from "./mono";
import { SchedulePreviewPanel } from "./SchedulePreviewPanel";
import { scheduleFromValues, validateSchedule, windowZone, type IntervalUnit, type ScheduleKind, type ScheduleValues } from "./taskForm";
import { useSchedulePreview } from "./useSchedulePreview";

const CRON_PRESETS: { label: string; expression: string }[] = [
  { label: "Every 15 minutes", expression: "*/15 * * * *" },
  { label: "Hourly", expression: "0 * * * *" },
  { label: "Daily at 09:00", expression: "0 9 * * *" },
  { label: "Weekdays at 09:00", expression: "0 9 * * 1-5" },
  { label: "Mondays at 06:00", expression: "0 6 * * 1" },
  { label: "Monthly, 1st at 00:00", expression: "0 0 1 * *" },
];

const KINDS: { value: ScheduleKind; label: string }[] = [
  { value: "none", label: "Manual only" },
  { value: "once", label: "Once" },
  { value: "interval", label: "Interval" },
  { value: "cron", label: "Cron" },
];

function WindowHint({ value, zone }: { value: string; zone: string }) {
  const iso = fromZonedInput(value, zone);
  return (
    <>
      {zone} time{iso ? ` · ${formatUtc(iso)}` : ""}
    </>
  );
}

export interface ScheduleEditorProps {
  value: ScheduleValues;
  onChange: (next: ScheduleValues) => void;
  /** Errors by form path ("schedule.expression"), e.g. from validation or a failed save. */
  errors?: Record<string, string | undefined>;
  /** Debounce for the preview request. */
  previewDelayMs?: number;
}

/** Once / interval / cron with a time-zone picker, and a live server-side preview. */
export function ScheduleEditor({ value, onChange, errors = {}, previewDelayMs = 300 }: ScheduleEditorProps) {
  const set = <K extends keyof ScheduleValues>(key: K, fieldValue: ScheduleValues[K]) => onChange({ ...value, [key]: fieldValue });
  const zones = useMemo(() => timeZones(), []);
  const [advanced, setAdvanced] = useState(Boolean(value.start_at || value.end_at || value.jitter_seconds));
  // Start and end are read on the schedule's wall clock: a cron schedule's zone, else the browser's.
  const windowIn = windowZone(value) ?? browserTimeZone;

  const localErrors = validateSchedule(value);
  const schedule = Object.keys(localErrors).length ? null : scheduleFromValues(value);
  const preview = useSchedulePreview(schedule, value.type !== "none", previewDelayMs);
  // An error beside a field: the form's own (validation, failed save) first, then the preview's answer.
  const errorFor = (path: string): string | undefined => errors[path] ?? preview.fieldErrors[path];
  const serverRejected = Object.keys(preview.fieldErrors).length > 0;
  const hint =
    value.type === "none"
      ? null
      : (Object.values(localErrors)[0] ??
        (serverRejected ? "The server cannot read this schedule yet: see the message beside the field." : null));

  return (
    <Stack gap="sm">
      <div>
        <Text size="sm" fw={500} id="schedule-type-label" mb={4}>
          Schedule type
        </Text>
        <SegmentedControl
          aria-labelledby="schedule-type-label"
          data={KINDS}
          value={value.type}
          onChange={(kind) => set("type", kind as ScheduleKind)}
        />
        {errorFor("schedule") && (
          <Text c="red" size="sm" mt={4} role="alert">
            {errorFor("schedule")}
          </Text>
        )}
      </div>

      {value.type === "none" && (
        <Text size="sm" c="dimmed">
          The task runs only when someone presses “Run now” (or calls the API).
        </Text>
      )}

      {value.type === "once" && (
        <TextInput
          type="datetime-local"
          label="Date and time"
          description={`In your time zone (${browserTimeZone}).`}
          value={value.at}
          onChange={(event) => set("at", event.currentTarget.value)}
          error={errorFor("schedule.at")}
          rightSectionWidth={0}
          inputWrapperOrder={["label", "description", "input", "error"]}
          required
        />
      )}

      {value.type === "interval" && (
        <Group align="flex-start" gap="sm">
          <NumberInput
            label="Every"
            min={1}
            allowDecimal={false}
            value={value.every}
            onChange={(next) => set("every", typeof next === "number" ? next : next === "" ? "" : Number(next))}
            error={errorFor("schedule.every")}
            w={140}
            required
          />
          <Select
            label="Unit"
            data={["seconds", "minutes", "hours", "days"]}
            value={value.unit}
            onChange={(unit) => unit && set("unit", unit as IntervalUnit)}
            allowDeselect={false}
            w={140}
          />
        </Group>
      )}

      {value.type === "cron" && (
        <>
          <Grid gutter="sm">
            <Grid.Col span={{ base: 12, sm: 6 }}>
              <TextInput
                label="Cron expression"
                description="minute hour day-of-month month day-of-week (an optional 6th field first for seconds), or @daily, @hourly…"
                value={value.expression}
                onChange={(event) => set("expression", event.currentTarget.value)}
                error={errorFor("schedule.expression")}
                styles={MONO}
                spellCheck={false}
                autoComplete="off"
                required
              />
            </Grid.Col>
            <Grid.Col span={{ base: 12, sm: 6 }}>
              <Select
                label="Time zone"
                description="The cron fields are read in this zone."
                data={zones}
                value={value.timezone}
                onChange={(zone) => zone && set("timezone", zone)}
                searchable
                limit={100}
                nothingFoundMessage="No such time zone"
                allowDeselect={false}
                error={errorFor("schedule.timezone")}
                required
              />
            </Grid.Col>
          </Grid>
          <Group gap={6} aria-label="Common schedules" role="group">
            {CRON_PRESETS.map((preset) => (
              <Button key={preset.expression} size="compact-xs" variant={value.expression === preset.expression ? "filled" : "light"} onClick={() => set("expression", preset.expression)}>
                {preset.label}
              </Button>
            ))}
          </Group>
        </>
      )}

      {(value.type === "interval" || value.type === "cron") && (
        <>
          <UnstyledButton onClick={() => setAdvanced((open) => !open)} aria-expanded={advanced} aria-controls="schedule-window">
            <Group gap={4}>
              {advanced ? <IconChevronDown size={14} aria-hidden /> : <IconChevronRight size={14} aria-hidden />}
              <Text size="sm">Window and jitter</Text>
            </Group>
          </UnstyledButton>
          <Collapse in={advanced} id="schedule-window">
            <Group align="flex-start" gap="sm">
              <TextInput
                type="datetime-local"
                label={`Start at (${windowIn})`}
                description={<WindowHint value={value.start_at} zone={windowIn} />}
                value={value.start_at}
                onChange={(event) => set("start_at", event.currentTarget.value)}
                error={errorFor("schedule.start_at")}
              />
              <TextInput
                type="datetime-local"
                label={`End at (${windowIn})`}
                description={<WindowHint value={value.end_at} zone={windowIn} />}
                value={value.end_at}
                onChange={(event) => set("end_at", event.currentTarget.value)}
                error={errorFor("schedule.end_at")}
              />
              <NumberInput
                label="Jitter (seconds)"
                description="Random delay up to this"
                min={0}
                value={value.jitter_seconds}
                onChange={(next) => set("jitter_seconds", typeof next === "number" ? next : next === "" ? "" : Number(next))}
                error={errorFor("schedule.jitter_seconds")}
                w={160}
              />
            </Group>
            <Text size="xs" c="dimmed" mt={4} data-testid="window-zone">
              {value.type === "cron"
                ? `Start and end are in the schedule's time zone (${windowIn}), like the cron fields.`
                : `Start and end are in your time zone (${windowIn}).`}
            </Text>
          </Collapse>
        </>
      )}

      {value.type !== "none" && (
        <SchedulePreviewPanel
          preview={schedule ? preview.data : undefined}
          loading={preview.loading}
          stale={preview.stale}
          error={preview.error}
          hint={hint}
          scheduleType={value.type}
        />
      )}
    </Stack>
  );
}
