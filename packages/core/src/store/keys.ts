/**
 * Key layout of the single table. Every item of a job shares the job's partition, so a job,
 * its attempts, leases and timeline are read with one Query.
 */
import { isTerminal, type JobState } from "../jobs/state-machine";

export const jobKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: "JOB" });
export const attemptKey = (jobId: string, attempt: number) => ({
  pk: `JOB#${jobId}`,
  sk: `ATTEMPT#${String(attempt).padStart(4, "0")}`,
});
export const timelineKey = (jobId: string, version: number, atMs: number, suffix: string) => ({
  pk: `JOB#${jobId}`,
  sk: `TL#${String(version).padStart(8, "0")}#${String(atMs).padStart(15, "0")}#${suffix}`,
});
export const leaseKey = (jobId: string, name: string) => ({ pk: `JOB#${jobId}`, sk: `LEASE#${name}` });
export const strayKey = (jobId: string, instanceId: number) => ({
  pk: `JOB#${jobId}`,
  sk: `STRAY#${instanceId}`,
});
export const orphanKey = (instanceId: number) => ({ pk: `ORPHAN#${instanceId}`, sk: "ORPHAN" });
export const systemLeaseKey = (name: string) => ({ pk: `LEASE#${name}`, sk: "LEASE" });
export const instanceKey = (instanceId: number) => ({ pk: `INSTANCE#${instanceId}`, sk: "INSTANCE" });
export const idempotencyKeyItem = (key: string) => ({ pk: `IDEMPOTENCY#${key}`, sk: "IDEMPOTENCY" });
export const hostReputationKey = (machineId: number) => ({ pk: `HOST#${machineId}`, sk: "REPUTATION" });
export const hostFailureKey = (machineId: number, jobId: string, attempt: number) => ({
  pk: `HOST#${machineId}`,
  sk: `FAIL#${jobId}#${String(attempt).padStart(4, "0")}`,
});

/** Index keys of a job by state. Active jobs (`STATE#…`, what the reaper reads) and ended ones
 * (`ENDED#…`, kept for listing until TTL removes them) live in separate partitions, so the reaper's
 * reads never wade through finished work. */
export const stateIndexKeys = (state: JobState, createdAtMs: number, jobId: string) => ({
  gsi1pk: statePartition(state),
  gsi1sk: `${String(createdAtMs).padStart(15, "0")}#${jobId}`,
});
export const statePartition = (state: JobState) => (isTerminal(state) ? `ENDED#${state}` : `STATE#${state}`);
/** A once-only record (a webhook's event id, a signed request's signature) until it expires. */
export const onceKey = (kind: string, id: string) => ({ pk: `ONCE#${kind}#${id}`, sk: "ONCE" });
export const hostFailureIndexKeys = (atMs: number, machineId: number) => ({
  gsi1pk: "HOSTFAIL",
  gsi1sk: `${String(atMs).padStart(15, "0")}#${machineId}`,
});
/** Attempts whose destroy Vast accepted but nobody has yet seen through (the reaper's work list). */
export const UNVERIFIED_DESTROYS = "DESTROY#UNVERIFIED";
export const unverifiedDestroyIndexKeys = (destroyedAtMs: number, jobId: string, attempt: number) => ({
  gsi1pk: UNVERIFIED_DESTROYS,
  gsi1sk: `${String(destroyedAtMs).padStart(15, "0")}#${jobId}#${String(attempt).padStart(4, "0")}`,
});
