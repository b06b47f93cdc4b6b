import { Grid, NumberInput, Switch } from "@mantine/core";
import type { RuleNumber, RulesValues } from "./rules";

interface RulesFieldsProps {
  value: RulesValues;
  onChange: (next: RulesValues) => void;
  /** Errors by field name (``consecutive_failures``…). */
  errors?: Record<string, string | undefined>;
  /** Prefix of each field's data-path, so the form can focus the one its error names. */
  pathPrefix: string;
}

const asNumber = (next: string | number): RuleNumber => (typeof next === "number" ? next : next === "" ? "" : Number(next));

/** The fields of a rule set: the task editor's "Notifications" card and the global rules use them. */
export function RulesFields({ value, onChange, errors = {}, pathPrefix }: RulesFieldsProps) {
  const set = <K extends keyof RulesValues>(name: K, next: RulesValues[K]) => onChange({ ...value, [name]: next });
  const number = (name: "consecutive_failures" | "late_start_seconds" | "long_running_seconds" | "no_success_hours") => ({
    value: value[name],
    onChange: (next: string | number) => set(name, asNumber(next)),
    error: errors[name],
    "data-path": `${pathPrefix}${name}`,
  });
  return (
    <Grid gutter="sm">
      <Grid.Col span={{ base: 12, sm: 6 }}>
        <Switch label="A run fails after its last retry" checked={value.on_failure} onChange={(event) => set("on_failure", event.currentTarget.checked)} />
      </Grid.Col>
      <Grid.Col span={{ base: 12, sm: 6 }}>
        <Switch label="It recovers (first success after a failure notice)" checked={value.on_recovery} onChange={(event) => set("on_recovery", event.currentTarget.checked)} />
      </Grid.Col>
      <Grid.Col span={{ base: 12, sm: 6 }}>
        <NumberInput label="Failures in a row" description="Empty: off. At least 2." min={2} max={1000} allowDecimal={false} {...number("consecutive_failures")} />
      </Grid.Col>
      <Grid.Col span={{ base: 12, sm: 6 }}>
        <NumberInput
          label="Late start (seconds)"
          description="A slot not started this long after its time. Checked by the scheduler, so it fires with no worker alive."
          min={1}
          {...number("late_start_seconds")}
        />
      </Grid.Col>
      <Grid.Col span={{ base: 12, sm: 6 }}>
        <NumberInput label="Long-running (seconds)" description="Still running this long after it started." min={1} {...number("long_running_seconds")} />
      </Grid.Col>
      <Grid.Col span={{ base: 12, sm: 6 }}>
        <NumberInput label="No success for (hours)" description="Empty: off." min={0} decimalScale={2} {...number("no_success_hours")} />
      </Grid.Col>
    </Grid>
  );
}
