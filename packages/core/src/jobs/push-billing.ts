/**
 * What an attempt costs, and whether a job that holds a GPU has run out of time or money.
 *
 * Cost of an attempt = the offer's `dph_total` recorded on the attempt (GPU + storage per hour)
 * × (the attempt's `endedAt` − its `rentedAt`). `rentedAt` is stamped when the instance id is
 * recorded right after the create call; `endedAt` is stamped once the destroy call has returned.
 * That brackets Vast's bill from above: Vast starts the GPU charge at `running`, not at create,
 * so the estimate exceeds the bill by about boot time × the GPU rate; bandwidth (dataset bytes
 * pushed in) is not included — it is a fraction of a cent for LoRA datasets.
 */
import type { AttemptRecord, JobRecord } from "../store";

const MS_PER_HOUR = 3_600_000;

export function attemptCostUsd(record: AttemptRecord, endedAtMs: number): number {
  const from = record.rentedAt ?? record.startedAt;
  return (record.hourlyUsd * Math.max(0, endedAtMs - from)) / MS_PER_HOUR;
}

/** Why a job holding `record`'s instance must stop now, in words a person understands; null if it may go on. */
export function runningLimitExceeded(
  job: JobRecord,
  record: AttemptRecord,
  nowMs: number,
  graceMs = 0,
): string | null {
  const { request } = job;
  if (nowMs >= job.deadlineAt + graceMs) {
    return `the job exceeded its maximum runtime of ${request.maxRuntimeMinutes} minutes`;
  }
  const spent = job.spentUsd + attemptCostUsd(record, nowMs);
  if (spent >= request.budgetUsd) {
    return `the job reached its budget of $${request.budgetUsd.toFixed(2)} ($${spent.toFixed(2)} spent)`;
  }
  return null;
}
