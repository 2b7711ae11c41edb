/**
 * What `GET /v1/jobs/{id}` answers: the job as an operator needs it — its state and why, every
 * attempt, the instance it holds now, what it has cost so far (the open attempt priced as Vast
 * bills it), training progress and the timeline. Read from the store alone: looking at a job
 * spends none of the Vast rate budget (`GET /v1/instances/{id}` asks Vast for the live state).
 *
 * Left out on purpose: pinned SSH host keys, lease and readiness bookkeeping, and the query
 * string of any URL the request carries (a presigned dataset URL's signature is a credential).
 */
import { z } from "@hono/zod-openapi";
import {
  attemptCost,
  attemptCostBound,
  type JobRequest,
  JobRequestSchema,
  JobStateSchema,
  totalCost,
} from "../../jobs";
import {
  ArtifactSchema,
  AttemptOutcomeSchema,
  type AttemptRecord,
  CostBreakdownSchema,
  DatasetSummarySchema,
  type JobRecord,
  type TimelineEntry,
} from "../../store";

/*
 * zod gives a schema the methods its prototype has when it is built, so `.openapi()` exists only
 * on schemas built after `@hono/zod-openapi` loaded: schemas from other domains are copied
 * (`.extend({})`) before being named, or described with zod's own `.meta()`.
 */
const epochMs = (description: string) =>
  z.number().openapi({ description: `${description} (epoch milliseconds)` });
const nullableEpochMs = (description: string) =>
  z
    .number()
    .nullable()
    .openapi({ description: `${description} (epoch milliseconds)` });

export const CostBreakdownView = CostBreakdownSchema.extend({}).openapi("CostBreakdown", {
  description:
    "Money by what Vast bills for: the GPU while running, the disk from create to destroy, bytes pushed in.",
});

export const AttemptViewSchema = z
  .object({
    attempt: z.number().int(),
    outcome: AttemptOutcomeSchema,
    offerId: z.number().int(),
    machineId: z.number().int().nullable(),
    gpuName: z.string().nullable(),
    hourlyUsd: z.number().openapi({ description: "The offer's full hourly price (GPU and disk)." }),
    label: z
      .string()
      .openapi({ description: "The Vast label the instance carries: `vast-rental:<jobId>:<attempt>`." }),
    instanceId: z.number().int().nullable(),
    startedAt: epochMs("Recorded, before the create call"),
    rentedAt: nullableEpochMs("The instance was rented"),
    runningSince: nullableEpochMs("The GPU started billing"),
    endedAt: nullableEpochMs("The attempt ended"),
    destroyedAt: nullableEpochMs("Vast accepted the destroy"),
    sshHost: z.string().nullable(),
    sshPort: z.number().int().nullable(),
    failureReason: z.string().nullable(),
    cost: CostBreakdownView.nullable().openapi({ description: "Set once the attempt ended and was priced." }),
    costUsd: z.number().nullable(),
  })
  .openapi("Attempt");

export const CurrentInstanceSchema = z
  .object({
    instanceId: z.number().int(),
    attempt: z.number().int(),
    gpuName: z.string().nullable(),
    hourlyUsd: z.number(),
    sshHost: z.string().nullable(),
    sshPort: z.number().int().nullable(),
    rentedAt: nullableEpochMs("Rented"),
    runningSince: nullableEpochMs("The GPU started billing"),
  })
  .openapi("CurrentInstance", { description: "The instance the job's open attempt holds, as recorded." });

export const JobCostSchema = z
  .object({
    budgetUsd: z.number(),
    spentUsd: z
      .number()
      .openapi({ description: "Charged for attempts that have ended (and strays reaped for the job)." }),
    openAttemptUsd: z
      .number()
      .openapi({ description: "The open attempt, priced as Vast bills it, until now." }),
    totalUsd: z.number().openapi({ description: "spentUsd + openAttemptUsd." }),
    breakdown: CostBreakdownView,
    ceilingUsd: z.number().openapi({
      description: "What budget checks use: the open attempt at its full hourly rate since the create.",
    }),
    finalUsd: z
      .number()
      .nullable()
      .openapi({ description: "The job's final cost once it ended; null while active." }),
  })
  .openapi("JobCost");

export const TrainingProgressSchema = z
  .object({
    attempt: z.number().int(),
    step: z.number().int(),
    totalSteps: z.number().int(),
    fraction: z.number().min(0).max(1),
    at: epochMs("Last seen"),
  })
  .openapi("TrainingProgress");

export const UploadProgressSchema = z
  .object({
    attempt: z.number().int(),
    bytes: z.number().int().openapi({ description: "Bytes sent to the instance so far." }),
    totalBytes: z.number().int().nullable().openapi({ description: "The dataset's size, when known." }),
    bytesPerSecond: z.number().nullable(),
    done: z.boolean().openapi({ description: "The whole dataset is on the instance." }),
    reusedBytes: z.number().int().openapi({
      description:
        "Bytes of files the instance already had with the same size and sha256 (left by an interrupted push): verified there, not sent again.",
    }),
    at: epochMs("Last seen"),
  })
  .openapi("UploadProgress");

export const TimelineEntryViewSchema = z
  .object({
    at: epochMs("When"),
    kind: z.enum(["transition", "attempt", "diagnostics", "note"]),
    event: z.string().nullable(),
    from: JobStateSchema.nullable(),
    to: JobStateSchema.nullable(),
    reason: z.string(),
    details: z.record(z.string(), z.unknown()),
  })
  .openapi("TimelineEntry");

export const JobRequestView = JobRequestSchema.extend({}).openapi("JobRequest", {
  description: "A job request. In responses, URLs are shown without their query string.",
});

export const JobViewSchema = z
  .object({
    jobId: z.string(),
    state: JobStateSchema,
    reason: z
      .string()
      .nullable()
      .openapi({ description: "Why the latest transition happened; for a failed job, why it failed." }),
    createdAt: epochMs("Submitted"),
    updatedAt: epochMs("Last changed"),
    deadlineAt: epochMs("No rental starts after this"),
    endedAt: nullableEpochMs("Reached its final state"),
    attempt: z.number().int().openapi({ description: "Number of the latest attempt (0 = none yet)." }),
    request: JobRequestView,
    dataset: DatasetSummarySchema.nullable(),
    instance: CurrentInstanceSchema.nullable(),
    cost: JobCostSchema,
    upload: UploadProgressSchema.nullable().openapi({
      description: "The latest attempt's dataset upload: progress while pushing, the totals once done.",
    }),
    progress: TrainingProgressSchema.nullable(),
    artifact: ArtifactSchema.nullable(),
    attempts: z.array(AttemptViewSchema),
    timeline: z.array(TimelineEntryViewSchema),
  })
  .openapi("Job");
export type JobView = z.infer<typeof JobViewSchema>;

export const JobSummarySchema = z
  .object({
    jobId: z.string(),
    state: JobStateSchema,
    gpuType: z.string(),
    attempt: z.number().int(),
    reason: z.string().nullable(),
    createdAt: epochMs("Submitted"),
    updatedAt: epochMs("Last changed"),
    endedAt: nullableEpochMs("Reached its final state"),
    spentUsd: z.number(),
    costUsd: z.number().nullable(),
  })
  .openapi("JobSummary");
export type JobSummary = z.infer<typeof JobSummarySchema>;

/** A URL without userinfo, query string or fragment: those are where credentials ride. */
export function withoutQuery(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    parsed.search = "";
    parsed.hash = "";
    return parsed.toString();
  } catch {
    return "[not a URL]";
  }
}

export function publicRequest(request: JobRequest): JobRequest {
  return {
    ...request,
    dataset:
      request.dataset.kind === "https"
        ? { ...request.dataset, url: withoutQuery(request.dataset.url) }
        : request.dataset,
    ...(request.callbackUrl ? { callbackUrl: withoutQuery(request.callbackUrl) } : {}),
  };
}

function attemptView(a: AttemptRecord): z.infer<typeof AttemptViewSchema> {
  return {
    attempt: a.attempt,
    outcome: a.outcome,
    offerId: a.offerId,
    machineId: a.machineId,
    gpuName: a.gpuName,
    hourlyUsd: a.hourlyUsd,
    label: a.label,
    instanceId: a.instanceId,
    startedAt: a.startedAt,
    rentedAt: a.rentedAt,
    runningSince: a.runningSince,
    endedAt: a.endedAt,
    destroyedAt: a.destroyedAt,
    sshHost: a.sshHost,
    sshPort: a.sshPort,
    failureReason: a.failureReason,
    cost: a.cost,
    costUsd: a.costUsd,
  };
}

function latestProgress(timeline: readonly TimelineEntry[]): z.infer<typeof TrainingProgressSchema> | null {
  const note = timeline.findLast(
    (e) =>
      e.details.kind === "progress" &&
      typeof e.details.step === "number" &&
      typeof e.details.totalSteps === "number",
  );
  if (!note) return null;
  const step = note.details.step as number;
  const totalSteps = note.details.totalSteps as number;
  return {
    attempt: typeof note.details.attempt === "number" ? note.details.attempt : 0,
    step,
    totalSteps,
    fraction: totalSteps > 0 ? Math.min(1, Math.max(0, step / totalSteps)) : 0,
    at: note.at,
  };
}

const numberOr = (value: unknown, fallback: number | null) => (typeof value === "number" ? value : fallback);

function latestUpload(timeline: readonly TimelineEntry[]): z.infer<typeof UploadProgressSchema> | null {
  const note = timeline.findLast(
    (e) =>
      (e.details.kind === "push_progress" || e.details.kind === "dataset_pushed") &&
      typeof e.details.bytes === "number",
  );
  if (!note) return null;
  const done = note.details.kind === "dataset_pushed";
  const bytes = note.details.bytes as number;
  return {
    attempt: numberOr(note.details.attempt, 0) ?? 0,
    bytes,
    totalBytes: done
      ? bytes + (numberOr(note.details.reusedBytes, 0) ?? 0)
      : numberOr(note.details.totalBytes, null),
    bytesPerSecond: numberOr(note.details.bytesPerSecond, null),
    done,
    reusedBytes: done ? (numberOr(note.details.reusedBytes, 0) ?? 0) : 0,
    at: note.at,
  };
}

const add = (a: z.infer<typeof CostBreakdownSchema>, b: z.infer<typeof CostBreakdownSchema>) => ({
  gpuUsd: a.gpuUsd + b.gpuUsd,
  storageUsd: a.storageUsd + b.storageUsd,
  bandwidthUsd: a.bandwidthUsd + b.bandwidthUsd,
});

export function jobView(
  job: JobRecord,
  attempts: readonly AttemptRecord[],
  timeline: readonly TimelineEntry[],
  nowMs: number,
): JobView {
  // The open attempt holding an instance is what bills now; ended ones are in spentUsd already.
  const open = attempts.findLast((a) => a.endedAt === null && a.instanceId !== null) ?? null;
  const live = open ? attemptCost(open, nowMs) : { gpuUsd: 0, storageUsd: 0, bandwidthUsd: 0 };
  const openAttemptUsd = totalCost(live);
  return {
    jobId: job.jobId,
    state: job.state,
    reason: job.reason,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    deadlineAt: job.deadlineAt,
    endedAt: job.endedAt,
    attempt: job.attempt,
    request: publicRequest(job.request),
    dataset: job.dataset,
    instance:
      open && open.instanceId !== null
        ? {
            instanceId: open.instanceId,
            attempt: open.attempt,
            gpuName: open.gpuName,
            hourlyUsd: open.hourlyUsd,
            sshHost: open.sshHost,
            sshPort: open.sshPort,
            rentedAt: open.rentedAt,
            runningSince: open.runningSince,
          }
        : null,
    cost: {
      budgetUsd: job.request.budgetUsd,
      spentUsd: job.spentUsd,
      openAttemptUsd,
      totalUsd: job.spentUsd + openAttemptUsd,
      breakdown: add(job.costBreakdown, live),
      ceilingUsd: job.spentUsd + (open ? attemptCostBound(open, nowMs) : 0),
      finalUsd: job.costUsd,
    },
    upload: latestUpload(timeline),
    progress: latestProgress(timeline),
    artifact: job.artifact,
    attempts: attempts.map(attemptView),
    timeline: timeline.map((e) => ({
      at: e.at,
      kind: e.kind,
      event: e.event,
      from: e.from,
      to: e.to,
      reason: e.reason,
      details: e.details,
    })),
  };
}

export function jobSummary(job: JobRecord): JobSummary {
  return {
    jobId: job.jobId,
    state: job.state,
    gpuType: job.request.gpuType,
    attempt: job.attempt,
    reason: job.reason,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    endedAt: job.endedAt,
    spentUsd: job.spentUsd,
    costUsd: job.costUsd,
  };
}
