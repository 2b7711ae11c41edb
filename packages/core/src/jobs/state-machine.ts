/**
 * The job lifecycle as a pure function: which event moves a job from which state to which.
 * Every change the orchestrator makes to a job's state goes through `nextState`, so an event
 * that makes no sense in the current state is refused loudly instead of being applied.
 */
import { z } from "zod";

export const JobStateSchema = z.enum([
  "queued",
  "provisioning",
  "booting",
  "pushing",
  "training",
  "collecting",
  "succeeded",
  "failed",
  "cancelled",
]);
export type JobState = z.infer<typeof JobStateSchema>;

export const TERMINAL_STATES: readonly JobState[] = ["succeeded", "failed", "cancelled"];
export const ACTIVE_STATES: readonly JobState[] = JobStateSchema.options.filter(
  (s) => !TERMINAL_STATES.includes(s),
);

export function isTerminal(state: JobState): boolean {
  return TERMINAL_STATES.includes(state);
}

export const JobEventTypeSchema = z.enum([
  /** A provision message picked the job up. */
  "provision_started",
  /** An instance was rented (or adopted by label) for the current attempt. */
  "instance_created",
  /** The rented instance failed or timed out; it was destroyed and another attempt follows. */
  "attempt_failed",
  /** Running, reachable over SSH, host key pinned. */
  "instance_ready",
  "training_started",
  "training_finished",
  "artifact_collected",
  "fail",
  "cancel",
]);
export type JobEventType = z.infer<typeof JobEventTypeSchema>;

export const JobEventSchema = z.object({
  type: JobEventTypeSchema,
  /** Why, in words a person understands; it lands in the timeline. */
  reason: z.string().min(1).max(2000),
});
export type JobEvent = z.infer<typeof JobEventSchema>;

const ANY_ACTIVE = ACTIVE_STATES;

const RULES: Record<JobEventType, { from: readonly JobState[]; to: JobState }> = {
  provision_started: { from: ["queued"], to: "provisioning" },
  instance_created: { from: ["provisioning"], to: "booting" },
  // From training too: an outbid or vanished host loses the run, and a fresh GPU may still finish
  // within the job's time and budget.
  attempt_failed: { from: ["booting", "pushing", "training"], to: "provisioning" },
  instance_ready: { from: ["booting"], to: "pushing" },
  training_started: { from: ["pushing"], to: "training" },
  training_finished: { from: ["training"], to: "collecting" },
  artifact_collected: { from: ["collecting"], to: "succeeded" },
  fail: { from: ANY_ACTIVE, to: "failed" },
  cancel: { from: ANY_ACTIVE, to: "cancelled" },
};

export class IllegalTransitionError extends Error {
  override readonly name = "IllegalTransitionError";
  constructor(
    readonly from: JobState,
    readonly event: JobEventType,
  ) {
    super(`a job in state '${from}' cannot take event '${event}'`);
  }
}

/** The state `event` leads to from `from`; throws `IllegalTransitionError` when it is not allowed. */
export function nextState(from: JobState, event: JobEventType): JobState {
  const rule = RULES[event];
  if (!rule.from.includes(from)) throw new IllegalTransitionError(from, event);
  return rule.to;
}

export function canTransition(from: JobState, event: JobEventType): boolean {
  return RULES[event].from.includes(from);
}
