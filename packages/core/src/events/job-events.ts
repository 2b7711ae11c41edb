/**
 * The lifecycle events the system publishes on its EventBridge bus (source `vast-rental`) — and
 * sends, signed, to a job's callback URL — with the publisher port. One zod schema per event type
 * is the single source of its shape, its TypeScript type and its documentation. Events carry ids,
 * states, reasons and money — never request secrets or instance credentials.
 */
import { z } from "zod";
import { JobStateSchema } from "../jobs/state-machine";
import { ArtifactSchema, CostBreakdownSchema } from "../store/records";

export const EVENT_SOURCE = "vast-rental";

export const JobSubmittedDetailSchema = z.object({
  jobId: z.string(),
  status: JobStateSchema,
  gpuType: z.string(),
  maxHourlyUsd: z.number(),
  budgetUsd: z.number(),
});

export const JobStateChangedDetailSchema = z.object({
  jobId: z.string(),
  from: JobStateSchema,
  to: JobStateSchema,
  reason: z.string(),
  attempt: z.number().int().nonnegative(),
  spentUsd: z.number(),
  /** Terminal states only: the job's final cost, every rented instance included. */
  costUsd: z.number().optional(),
  /** Terminal states only: the collected LoRA (null unless the job succeeded). */
  artifact: ArtifactSchema.nullable().optional(),
});

export const InstanceProvisionedDetailSchema = z.object({
  jobId: z.string(),
  attempt: z.number().int().positive(),
  instanceId: z.number().int(),
  offerId: z.number().int(),
  machineId: z.number().int().nullable(),
  gpuName: z.string().nullable(),
  /** The offer's full hourly price (GPU and disk). */
  hourlyUsd: z.number(),
});

export const InstanceTerminatedDetailSchema = z.object({
  /** Null for an instance no job in the table knows (an orphan). */
  jobId: z.string().nullable(),
  attempt: z.number().int().positive().nullable(),
  instanceId: z.number().int(),
  reason: z.string(),
});

export const JobSucceededDetailSchema = z.object({
  jobId: z.string(),
  artifact: ArtifactSchema,
  costUsd: z.number(),
  costBreakdown: CostBreakdownSchema,
  timings: z.object({
    submittedAt: z.number(),
    /** When the run was launched on the instance (null when not found in the timeline). */
    trainingStartedAt: z.number().nullable(),
    endedAt: z.number(),
    /** Submission to the end, in seconds. */
    totalSeconds: z.number(),
  }),
});

export const JobFailedDetailSchema = z.object({
  jobId: z.string(),
  reason: z.string(),
  costUsd: z.number(),
  costBreakdown: CostBreakdownSchema,
});

/** Every event the system publishes, by detail type. */
export const JobLifecycleEventSchema = z.discriminatedUnion("detailType", [
  z.object({ detailType: z.literal("Job Submitted"), detail: JobSubmittedDetailSchema }),
  z.object({ detailType: z.literal("Job State Changed"), detail: JobStateChangedDetailSchema }),
  z.object({ detailType: z.literal("Instance Provisioned"), detail: InstanceProvisionedDetailSchema }),
  z.object({ detailType: z.literal("Instance Terminated"), detail: InstanceTerminatedDetailSchema }),
  z.object({ detailType: z.literal("Job Succeeded"), detail: JobSucceededDetailSchema }),
  z.object({ detailType: z.literal("Job Failed"), detail: JobFailedDetailSchema }),
]);
export type JobLifecycleEvent = z.infer<typeof JobLifecycleEventSchema>;
export type JobLifecycleEventType = JobLifecycleEvent["detailType"];

export interface EventPublisher {
  publish(event: JobLifecycleEvent | ReconcileRequestedEvent): Promise<void>;
}

/**
 * Internal: asks the poller for a run now (a Vast notification arrived; its payload names no
 * instance, so a run reconciles them all). The poller function subscribes to it on the bus.
 */
export const ReconcileRequestedDetailSchema = z.object({
  /** What asked (`vast-webhook`, an operator). */
  trigger: z.string(),
  /** Vast's event id and type, when a notification asked. */
  eventId: z.string().nullable(),
  notification: z.string().nullable(),
});
export const ReconcileRequestedEventSchema = z.object({
  detailType: z.literal("Reconcile Requested"),
  detail: ReconcileRequestedDetailSchema,
});
export type ReconcileRequestedEvent = z.infer<typeof ReconcileRequestedEventSchema>;

/** Anything the publisher may be asked to put on the bus. */
export const PublishedEventSchema = z.union([JobLifecycleEventSchema, ReconcileRequestedEventSchema]);
export type PublishedEvent = z.infer<typeof PublishedEventSchema>;
