/**
 * Orchestration settings laid over each other, group by group: what the environment sets (the
 * workspace, the orphan grace...) with what a caller of the stack adds (the chaos run's shorter
 * leases and delays) on top.
 */
import type { JobSettingsOverrides } from "@vast-rental/core";

export function mergeSettingsOverrides(
  base: JobSettingsOverrides = {},
  over: JobSettingsOverrides = {},
): JobSettingsOverrides {
  const out: Record<string, object> = { ...base };
  for (const [group, values] of Object.entries(over)) {
    out[group] = { ...(out[group] ?? {}), ...values };
  }
  return out as JobSettingsOverrides;
}
