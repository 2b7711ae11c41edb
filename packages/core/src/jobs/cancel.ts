/**
 * Cancelling a job, for the HTTP API and the EventBridge subscriber: the job ends through the
 * one teardown path, so its instance is destroyed and its cost charged before it reads `cancelled`.
 */
import { JobNotFoundError, type JobRecord } from "../store";
import { AttemptEndingTakenError, claimedOutcome, finishJob } from "./attempts";
import { storedArtifact } from "./completion";
import type { JobDeps } from "./deps";

/**
 * A cancel that came after the job's LoRA was stored: the run succeeded and is paid for, and the
 * completion check is ending the job `succeeded` (destroying its instance). Told apart like a
 * cancel of a job that has ended (the API answers 409).
 */
export class CancelTooLateError extends Error {
  constructor(readonly jobId: string) {
    super(`job ${jobId} has finished training and its LoRA is stored; it is ending as succeeded`);
    this.name = "CancelTooLateError";
  }
}

export async function cancelJob(
  deps: JobDeps,
  jobId: string,
  reason = "cancelled on request",
): Promise<JobRecord> {
  const job = await deps.store.getJob(jobId);
  if (!job) throw new JobNotFoundError(jobId);
  // Cancelling now would throw away a result already made and paid for, and record the run that
  // made it as failed (found by the chaos run: a job cancelled with its LoRA stored) — unless an
  // ending claimed as failed (an earlier cancel, a limit) got to the attempt first: then the LoRA
  // is not the job's result and the cancel goes ahead.
  if (job.state === "collecting" && (await storedArtifact(deps, jobId, job.attempt))) {
    const attempt = await deps.store.getAttempt(jobId, job.attempt);
    if (!attempt || claimedOutcome(job, attempt) !== "failed") throw new CancelTooLateError(jobId);
  }
  try {
    return await finishJob(deps, job, { type: "cancel", reason });
  } catch (error) {
    // The completion check claimed the ending for the stored LoRA (or already charged it as
    // succeeded) between our reads and our claim.
    if (error instanceof AttemptEndingTakenError && error.outcome === "succeeded") {
      throw new CancelTooLateError(jobId);
    }
    throw error;
  }
}
