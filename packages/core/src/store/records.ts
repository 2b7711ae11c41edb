/**
 * The records the store keeps, as zod schemas (the single source of their types). Items read
 * back from DynamoDB are parsed through these, so a malformed item is an error at the edge.
 */
import { z } from "zod";
import { StoredJobRequestSchema } from "../jobs/request";
import { JobEventTypeSchema, JobStateSchema } from "../jobs/state-machine";

/** The trained LoRA as stored in S3, with the size and sha256 verified on upload. */
export const ArtifactSchema = z.object({
  bucket: z.string(),
  key: z.string(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string(),
});
export type Artifact = z.infer<typeof ArtifactSchema>;

/** Money by what Vast bills for: the GPU while running, the disk from create to destroy, bytes pushed in. */
export const CostBreakdownSchema = z.object({
  gpuUsd: z.number().nonnegative(),
  storageUsd: z.number().nonnegative(),
  bandwidthUsd: z.number().nonnegative(),
});
export type CostBreakdown = z.infer<typeof CostBreakdownSchema>;
export const ZERO_COST: CostBreakdown = { gpuUsd: 0, storageUsd: 0, bandwidthUsd: 0 };

/** What the dataset check found before the first GPU was rented. */
export const DatasetSummarySchema = z.object({
  files: z.number().int().nonnegative().nullable(),
  /** Payload bytes once extracted, when the source says (listing sources do). */
  bytes: z.number().int().nonnegative().nullable(),
  /** Size of an HTTPS archive as served, when the server says. */
  archiveBytes: z.number().int().nonnegative().nullable(),
  checkedAt: z.number(),
});
export type DatasetSummary = z.infer<typeof DatasetSummarySchema>;

export const JobRecordSchema = z.object({
  jobId: z.string(),
  state: JobStateSchema,
  /** Bumped by every write that changes the job; each such write is conditional on it. */
  version: z.number().int().nonnegative(),
  /** As stored: the intake rules of the day it was submitted (its allowlist included) stand. */
  request: StoredJobRequestSchema,
  idempotencyKey: z.string().nullable(),
  requestHash: z.string(),
  createdAt: z.number(),
  updatedAt: z.number(),
  /** createdAt + maxRuntimeMinutes: no rental may start after it. */
  deadlineAt: z.number(),
  /** Number of the latest attempt (0 = none yet). */
  attempt: z.number().int().nonnegative(),
  /** Money spent on attempts that have ended (and on stray instances reaped for the job). */
  spentUsd: z.number().nonnegative(),
  /** `spentUsd` by what Vast bills for. */
  costBreakdown: CostBreakdownSchema.default(ZERO_COST),
  /** The dataset check made before renting; null until it passed. */
  dataset: DatasetSummarySchema.nullable().default(null),
  /** The reason given with the latest transition; for a failed job, why it failed. */
  reason: z.string().nullable(),
  /** Set by the final transition (and kept current if an attempt is priced after it): what the
   * job cost in all, every rented instance included. Null while the job is active. */
  costUsd: z.number().nonnegative().nullable().default(null),
  /** The collected LoRA of a succeeded job; null otherwise. */
  artifact: ArtifactSchema.nullable().default(null),
  /** When the job reached its terminal state. */
  endedAt: z.number().nullable().default(null),
});
export type JobRecord = z.infer<typeof JobRecordSchema>;

export const AttemptOutcomeSchema = z.enum([
  /** Recorded, create not yet known to have rented anything. */
  "pending",
  /** The create failed ambiguously and nothing carries the label yet: Vast may still be creating
   * it, so the label is looked up again for a while before another offer may be rented. */
  "unresolved",
  /** An instance is rented for this attempt. */
  "rented",
  "ready",
  /** Training finished, the artifact is stored and the instance destroyed. */
  "succeeded",
  /** The offer was gone or the create did not rent; nothing to clean up. */
  "not_rented",
  /** The instance failed or timed out and was destroyed. */
  "failed",
]);
export type AttemptOutcome = z.infer<typeof AttemptOutcomeSchema>;

/**
 * How an attempt's ending is meant to finish, written before its instance is destroyed: a step
 * that crashes between the destroy and the books leaves this behind, and whoever comes next (the
 * redelivered step, the reaper) finishes the same way rather than guessing.
 */
export const AttemptEndIntentSchema = z.object({
  /** `continue`: the caller carries on; `retry`: another attempt if allowed; `finish`: the job ends. */
  next: z.enum(["continue", "retry", "finish"]),
  /** With `finish`: the job's terminal event. */
  event: z.enum(["fail", "cancel", "artifact_collected"]).nullable(),
  reason: z.string(),
  /** The machine misbehaved: remember it. */
  hostFailure: z.boolean().default(false),
});
export type AttemptEndIntent = z.infer<typeof AttemptEndIntentSchema>;

export const AttemptRecordSchema = z.object({
  jobId: z.string(),
  attempt: z.number().int().positive(),
  offerId: z.number().int(),
  machineId: z.number().int().nullable(),
  hourlyUsd: z.number(),
  gpuName: z.string().nullable(),
  label: z.string(),
  outcome: AttemptOutcomeSchema,
  startedAt: z.number(),
  instanceId: z.number().int().nullable().default(null),
  rentedAt: z.number().nullable().default(null),
  endedAt: z.number().nullable().default(null),
  sshHost: z.string().nullable().default(null),
  sshPort: z.number().int().nullable().default(null),
  /** SSH host key pinned on first contact (trust on first use). */
  hostKeyFingerprint: z.string().nullable().default(null),
  failureReason: z.string().nullable().default(null),
  costUsd: z.number().nullable().default(null),
  cost: CostBreakdownSchema.nullable().default(null),
  /** Billing rates of the rented offer; null for attempts recorded before they were kept. */
  gpuHourlyUsd: z.number().nullable().default(null),
  storageHourlyUsd: z.number().nullable().default(null),
  bandwidthUsdPerGb: z.number().nullable().default(null),
  /** When the GPU started billing: Vast's `start_date` of the running instance (else first seen running). */
  runningSince: z.number().nullable().default(null),
  /** Dataset bytes pushed into the instance (bandwidth is billed per byte received). */
  bytesPushed: z.number().int().nonnegative().default(0),
  /** When an ambiguous create was first found to have rented nothing (outcome `unresolved`). */
  unresolvedSince: z.number().nullable().default(null),
  /** Label look-ups made to resolve an ambiguous create. */
  labelLookups: z.number().int().nonnegative().default(0),
  /**
   * When the latest label look-up that found nothing was sent: Vast created the instance later, so
   * an instance adopted after it has billed its disk since then, not since the create call.
   */
  labelMissedAt: z.number().nullable().default(null),
  /** When a step began ending the attempt; from then on it can take no instance. */
  endRequestedAt: z.number().nullable().default(null),
  endIntent: AttemptEndIntentSchema.nullable().default(null),
  /** When Vast accepted the destroy of the attempt's instance. */
  destroyedAt: z.number().nullable().default(null),
  /** When Vast was seen no longer listing the instance (null: the reaper still has to look). */
  destroyVerifiedAt: z.number().nullable().default(null),
  /** Highest readiness check claimed, when, and by which message (see claimReadinessCheck). */
  readinessCheck: z.number().int().default(-1),
  readinessCheckAt: z.number().nullable().default(null),
  readinessMessageId: z.string().nullable().default(null),
});
export type AttemptRecord = z.infer<typeof AttemptRecordSchema>;
export type NewAttempt = Pick<
  AttemptRecord,
  "attempt" | "offerId" | "machineId" | "hourlyUsd" | "gpuName" | "label"
> &
  Partial<Pick<AttemptRecord, "gpuHourlyUsd" | "storageHourlyUsd" | "bandwidthUsdPerGb">>;
/** What may change on an open attempt (ending it goes through `endAttempt`). */
export type AttemptPatch = Partial<
  Pick<
    AttemptRecord,
    | "outcome"
    | "sshHost"
    | "sshPort"
    | "hostKeyFingerprint"
    | "failureReason"
    | "runningSince"
    | "bytesPushed"
    | "unresolvedSince"
    | "labelLookups"
    | "labelMissedAt"
  >
>;

export const TimelineEntrySchema = z.object({
  at: z.number(),
  /** The job version the entry belongs to: the timeline is ordered by it, then by time, because
   * entries written within one millisecond (or under a frozen test clock) must keep causal order. */
  version: z.number().int().nonnegative().default(0),
  kind: z.enum(["transition", "attempt", "diagnostics", "note"]),
  event: JobEventTypeSchema.nullable().default(null),
  from: JobStateSchema.nullable().default(null),
  to: JobStateSchema.nullable().default(null),
  reason: z.string(),
  details: z.record(z.string(), z.unknown()).default({}),
});
export type TimelineEntry = z.infer<typeof TimelineEntrySchema>;
export type NewTimelineEntry = z.input<typeof TimelineEntrySchema>;

export const HostFailureSchema = z.object({
  machineId: z.number().int(),
  jobId: z.string(),
  attempt: z.number().int(),
  at: z.number(),
  reason: z.string(),
});
export type HostFailure = z.infer<typeof HostFailureSchema>;

/** A rented instance no attempt holds (a create that completed late, or one an ended attempt
 * still had), destroyed by the reaper and charged to its job once. */
export const StrayChargeSchema = z.object({
  jobId: z.string(),
  instanceId: z.number().int(),
  attempt: z.number().int(),
  at: z.number(),
  cost: CostBreakdownSchema,
  reason: z.string(),
});
export type StrayCharge = z.infer<typeof StrayChargeSchema>;

/** An attempt whose instance Vast accepted to destroy but nobody has yet seen gone. */
export const UnverifiedDestroySchema = z.object({
  jobId: z.string(),
  attempt: z.number().int(),
  instanceId: z.number().int(),
  destroyedAt: z.number(),
});
export type UnverifiedDestroy = z.infer<typeof UnverifiedDestroySchema>;

export const InstanceOwnerSchema = z.object({
  instanceId: z.number().int(),
  jobId: z.string(),
  attempt: z.number().int(),
});
export type InstanceOwner = z.infer<typeof InstanceOwnerSchema>;
