/**
 * Money and time limits checked before renting: a job whose deadline has passed or whose
 * budget is spent must not rent another GPU.
 */
import type { JobRecord } from "../store";

/** Why the job may not rent now, in words a person understands; null when it may. */
export function limitExceeded(job: JobRecord, nowMs: number): string | null {
  const { request } = job;
  if (nowMs >= job.deadlineAt) {
    return `the job's maximum runtime of ${request.maxRuntimeMinutes} minutes ran out before a GPU was ready`;
  }
  if (job.spentUsd >= request.budgetUsd) {
    return `the budget of $${request.budgetUsd.toFixed(2)} is spent ($${job.spentUsd.toFixed(2)} used)`;
  }
  return null;
}
