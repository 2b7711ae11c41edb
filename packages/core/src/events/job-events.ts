/**
 * The lifecycle events the system publishes on its EventBridge bus, and the publisher port.
 * Events carry ids, states and reasons — never request secrets or instance credentials.
 */
import { z } from "zod";
import { JobStateSchema } from "../jobs/state-machine";
import { ArtifactSchema } from "../store/records";

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

export const JobLifecycleEventSchema = z.discriminatedUnion("detailType", [
  z.object({ detailType: z.literal("Job Submitted"), detail: JobSubmittedDetailSchema }),
  z.object({ detailType: z.literal("Job State Changed"), detail: JobStateChangedDetailSchema }),
]);
export type JobLifecycleEvent = z.infer<typeof JobLifecycleEventSchema>;

export interface EventPublisher {
  publish(event: JobLifecycleEvent): Promise<void>;
}
