/**
 * Ending an attempt that went wrong after the GPU was rented (bad dataset, changed host key,
 * failed or hung training): keep the diagnostics, destroy the instance, price the attempt, and
 * either fail the job or — for a host's fault while still pushing — hand it back to provisioning.
 * Destroy comes before any state change, so a crash part-way is finished by the retry and never
 * leaves a billing instance behind a terminal job.
 */

import { errorText } from "../observability";
import { type AttemptRecord, type JobRecord, VersionConflictError } from "../store";
import { chargeAttempt } from "./attempt-charge";
import { notifyJobEnded } from "./completion-notifier";
import { applyEvent } from "./lifecycle";
import { limitExceeded } from "./limits";
import { redactFor } from "./provision-deps";
import type { PushDeps } from "./push-deps";
import { isTerminal } from "./state-machine";

export interface EndAttemptOptions {
  /** Why, for a person: it becomes the job's reason when the job fails. */
  reason: string;
  /** Kept in the timeline before the instance (and its logs) are gone. */
  diagnostics?: Record<string, unknown>;
  /** The machine misbehaved (not the job's input): remember it so it is not rented again. */
  hostFailure?: boolean;
  /** From `pushing`, start another attempt when attempts, time and budget allow. */
  retryElsewhere?: boolean;
}

export interface EndedAttempt {
  job: JobRecord;
  costUsd: number;
  retried: boolean;
}

export async function endFailedAttempt(
  deps: PushDeps,
  jobBefore: JobRecord,
  record: AttemptRecord,
  options: EndAttemptOptions,
): Promise<EndedAttempt> {
  const redact = redactFor(deps);
  const reason = redact(options.reason);
  if (options.diagnostics) {
    await deps.store.appendTimeline(jobBefore.jobId, {
      at: deps.clock.now(),
      version: jobBefore.version,
      kind: "diagnostics",
      reason: `attempt ${record.attempt}: ${reason}`,
      details: JSON.parse(redact(JSON.stringify({ attempt: record.attempt, ...options.diagnostics }))),
    });
  }
  if (record.instanceId !== null) await deps.vast.terminateInstance(record.instanceId);
  const now = deps.clock.now();
  // Priced and charged once: a retry after a crash finds the attempt ended and charges nothing.
  const { job, costUsd } = await chargeAttempt(deps, jobBefore, record, {
    outcome: "failed",
    endedAt: now,
    failureReason: reason,
  });
  if (options.hostFailure && record.machineId !== null) {
    await deps.store.recordHostFailure({
      machineId: record.machineId,
      jobId: job.jobId,
      attempt: record.attempt,
      at: now,
      reason,
    });
  }

  if (isTerminal(job.state)) return { job, costUsd, retried: false };
  try {
    if (options.retryElsewhere && job.state === "pushing") {
      const attempts = await deps.store.listAttempts(job.jobId);
      const rentals = attempts.filter((a) => a.instanceId !== null).length;
      const limit = limitExceeded(job, now);
      if (rentals < job.request.maxAttempts && !limit) {
        const next = await applyEvent(
          deps,
          job,
          { type: "attempt_failed", reason: `attempt ${record.attempt} abandoned: ${reason}` },
          { details: { attempt: record.attempt, instanceId: record.instanceId } },
        );
        await deps.queue.enqueue({ type: "provision", jobId: job.jobId });
        return { job: next, costUsd, retried: true };
      }
      const why = limit
        ? `${reason}; no further attempt: ${limit}`
        : `${reason} (attempt ${record.attempt} of ${job.request.maxAttempts})`;
      const next = await applyEvent(deps, job, { type: "fail", reason: why });
      await notifyJobEnded(deps, next);
      return { job: next, costUsd, retried: false };
    }
    const next = await applyEvent(
      deps,
      job,
      { type: "fail", reason },
      { details: { attempt: record.attempt, instanceId: record.instanceId } },
    );
    await notifyJobEnded(deps, next);
    return { job: next, costUsd, retried: false };
  } catch (error) {
    if (!(error instanceof VersionConflictError)) throw error;
    // Someone else moved the job first (a concurrent check, a cancel); their write stands.
    deps.logger.info("job moved on while ending the attempt", { jobId: job.jobId, error: errorText(error) });
    const current = await deps.store.getJob(job.jobId);
    return { job: current ?? job, costUsd, retried: false };
  }
}
