/**
 * Cancelling a job, for the HTTP API and the EventBridge subscriber: the job ends through the
 * one teardown path, so its instance is destroyed and its cost charged before it reads `cancelled`.
 */
import { JobNotFoundError, type JobRecord } from "../store";
import { finishJob } from "./attempts";
import type { JobDeps } from "./deps";

export async function cancelJob(
  deps: JobDeps,
  jobId: string,
  reason = "cancelled on request",
): Promise<JobRecord> {
  const job = await deps.store.getJob(jobId);
  if (!job) throw new JobNotFoundError(jobId);
  return await finishJob(deps, job, { type: "cancel", reason });
}
