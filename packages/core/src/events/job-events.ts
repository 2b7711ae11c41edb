/**
 * The lifecycle events the system publishes on its EventBridge bus, and the publisher port.
 * Events carry ids, states and reasons — never request secrets or instance credentials.
 */
import { z } from "zod";
import { JobStateSchema } from "../jobs/state-machine";

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
});

export const JobLifecycleEventSchema = z.discriminatedUnion("detailType", [
  z.object({ detailType: z.literal("Job Submitted"), detail: JobSubmittedDetailSchema }),
  z.object({ detailType: z.literal("Job State Changed"), detail: JobStateChangedDetailSchema }),
]);
export type JobLifecycleEvent = z.infer<typeof JobLifecycleEventSchema>;

export interface EventPublisher {
  publish(event: JobLifecycleEvent): Promise<void>;
}
