/**
 * The records the store keeps, as zod schemas (the single source of their types). Items read
 * back from DynamoDB are parsed through these, so a malformed item is an error at the edge.
 */
import { z } from "zod";
import { JobRequestSchema } from "../jobs/request";
import { JobEventTypeSchema, JobStateSchema } from "../jobs/state-machine";

/** The trained LoRA as stored in S3, with the size and sha256 verified on upload. */
export const ArtifactSchema = z.object({
  bucket: z.string(),
  key: z.string(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string(),
});
export type Artifact = z.infer<typeof ArtifactSchema>;

export const JobRecordSchema = z.object({
  jobId: z.string(),
  state: JobStateSchema,
  /** Bumped by every write that changes the job; each such write is conditional on it. */
  version: z.number().int().nonnegative(),
  request: JobRequestSchema,
  idempotencyKey: z.string().nullable(),
  requestHash: z.string(),
  createdAt: z.number(),
  updatedAt: z.number(),
  /** createdAt + maxRuntimeMinutes: no rental may start after it. */
  deadlineAt: z.number(),
  /** Number of the latest attempt (0 = none yet). */
  attempt: z.number().int().nonnegative(),
  /** Money spent on attempts that have ended. */
  spentUsd: z.number().nonnegative(),
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
});
export type AttemptRecord = z.infer<typeof AttemptRecordSchema>;
export type NewAttempt = Pick<
  AttemptRecord,
  "attempt" | "offerId" | "machineId" | "hourlyUsd" | "gpuName" | "label"
>;
export type AttemptPatch = Partial<
  Pick<
    AttemptRecord,
    | "outcome"
    | "rentedAt"
    | "endedAt"
    | "sshHost"
    | "sshPort"
    | "hostKeyFingerprint"
    | "failureReason"
    | "costUsd"
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

export const InstanceOwnerSchema = z.object({
  instanceId: z.number().int(),
  jobId: z.string(),
  attempt: z.number().int(),
});
export type InstanceOwner = z.infer<typeof InstanceOwnerSchema>;
