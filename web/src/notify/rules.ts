// Notification rules as the editors hold them: numbers may be empty ("" = rule off), and back.
import type { NotifyRules } from "../api/types";

export type RuleNumber = number | "";

export interface RulesValues {
  on_failure: boolean;
  on_recovery: boolean;
  consecutive_failures: RuleNumber;
  late_start_seconds: RuleNumber;
  long_running_seconds: RuleNumber;
  no_success_hours: RuleNumber;
}

export const DEFAULT_RULES: RulesValues = {
  on_failure: true,
  on_recovery: true,
  consecutive_failures: "",
  late_start_seconds: "",
  long_running_seconds: "",
  no_success_hours: "",
};

const orEmpty = (value: number | null | undefined): RuleNumber => (value === null || value === undefined ? "" : value);
const orNull = (value: RuleNumber): number | null => (value === "" ? null : value);

export function rulesToValues(rules: NotifyRules | null | undefined): RulesValues {
  if (!rules) return { ...DEFAULT_RULES };
  return {
    on_failure: rules.on_failure,
    on_recovery: rules.on_recovery,
    consecutive_failures: orEmpty(rules.consecutive_failures),
    late_start_seconds: orEmpty(rules.late_start_seconds),
    long_running_seconds: orEmpty(rules.long_running_seconds),
    no_success_hours: orEmpty(rules.no_success_hours),
  };
}

export function valuesToRules(values: RulesValues): NotifyRules {
  return {
    on_failure: values.on_failure,
    on_recovery: values.on_recovery,
    consecutive_failures: orNull(values.consecutive_failures),
    late_start_seconds: orNull(values.late_start_seconds),
    long_running_seconds: orNull(values.long_running_seconds),
    no_success_hours: orNull(values.no_success_hours),
  };
}

/** Range checks made before saving (the server checks them too and its 422 names the field). */
export function validateRules(values: RulesValues, prefix: string): Record<string, string> {
  const errors: Record<string, string> = {};
  const check = (name: keyof RulesValues, min: number, max: number, integer: boolean, exclusive = false) => {
    const value = values[name];
    if (value === "" || typeof value !== "number") return;
    if (Number.isNaN(value)) errors[`${prefix}${name}`] = "Enter a number.";
    else if (integer && !Number.isInteger(value)) errors[`${prefix}${name}`] = "Enter a whole number.";
    else if (exclusive ? value <= min : value < min) errors[`${prefix}${name}`] = exclusive ? `Must be more than ${min}.` : `Must be at least ${min}.`;
    else if (value > max) errors[`${prefix}${name}`] = `Must be at most ${max}.`;
  };
  check("consecutive_failures", 2, 1000, true);
  check("late_start_seconds", 1, 7 * 86_400, false);
  check("long_running_seconds", 1, 7 * 86_400, false);
  check("no_success_hours", 0, 24 * 365, false, true);
  return errors;
}

/** One line a person reads: what these rules notify about. */
export function describeRules(rules: NotifyRules): string {
  const parts: string[] = [];
  if (rules.on_failure) parts.push("final failures");
  if (rules.consecutive_failures) parts.push(`${rules.consecutive_failures} failures in a row`);
  if (rules.on_recovery) parts.push("recovery");
  if (rules.late_start_seconds) parts.push(`not started ${rules.late_start_seconds} s after its time`);
  if (rules.long_running_seconds) parts.push(`running over ${rules.long_running_seconds} s`);
  if (rules.no_success_hours) parts.push(`no success for ${rules.no_success_hours} h`);
  return parts.length ? parts.join(", ") : "nothing";
}
