/** What a reaper run did, by kind: the run's summary line and its tests read these counts. */

export const REAPER_ACTIONS = [
  /** An instance with our label prefix no job or attempt knows, past its grace period. */
  "orphan_destroyed",
  /** Such an instance, still within its grace period. */
  "orphan_waiting",
  /** An instance whose label names an attempt that does not hold it (a late create, a lost race). */
  "stray_destroyed",
  /** A destroy Vast accepted earlier, still listed: destroyed again. */
  "destroy_retried",
  /** A destroy Vast accepted earlier, no longer listed: done. */
  "destroy_verified",
  /** A live job's instance stopped, exited or went offline: attempt ended, job moved on or failed. */
  "unwanted_state_ended",
  /** A live job's instance no longer listed by Vast: attempt ended. */
  "vanished_ended",
  /** Booting past the boot timeout, readiness not having ended it. */
  "boot_timeout_ended",
  /** Pushing past the push timeout. */
  "push_timeout_ended",
  /** A job holding a GPU past its budget or maximum runtime. */
  "limit_ended",
  /** A step whose message was lost, handed to its queue again. */
  "requeued_provision",
  "requeued_readiness",
  "requeued_push",
  /** Training checked over SSH (progress, exit code, heartbeat). */
  "training_checked",
  /** A finished run collected and its instance destroyed. */
  "training_succeeded",
  /** A run that failed or hung: instance destroyed. */
  "training_failed",
  /** A run whose end is expected before the next run: a follow-up check sent on the provision queue. */
  "follow_up_scheduled",
  /** An instance being created right now (its attempt has not recorded it yet): left alone. */
  "creating_left",
] as const;
export type ReaperAction = (typeof REAPER_ACTIONS)[number];

export type ReaperActionCounts = Record<ReaperAction, number>;

export function emptyActionCounts(): ReaperActionCounts {
  return Object.fromEntries(REAPER_ACTIONS.map((a) => [a, 0])) as ReaperActionCounts;
}
