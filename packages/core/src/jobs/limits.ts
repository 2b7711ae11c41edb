/**
 * Money and time limits. Before renting: a job whose deadline has passed or whose budget is spent
 * must not rent another GPU. While holding one: the job's spend so far plus a ceiling on what the
 * live instance has cost (see attempts/billing) must stay under the budget, and the deadline holds.
 */
import type { AttemptRecord, JobRecord } from "../store";
import { attemptCostBound } from "./attempts/billing";

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
  const spent = job.spentUsd + attemptCostBound(record, nowMs);
  if (spent >= request.budgetUsd) {
    return `the job reached its budget of $${request.budgetUsd.toFixed(2)} ($${spent.toFixed(2)} spent at most)`;
  }
  return null;
}
