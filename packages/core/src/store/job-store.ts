/**
 * The store port: everything the handlers read and write about jobs. `DynamoJobStore` is the
 * implementation; the interface exists so the orchestration code names what it needs.
 */

import type { JobRequest } from "../jobs/request";
import type { JobEvent } from "../jobs/state-machine";
import type {
  Artifact,
  AttemptOutcome,
  AttemptPatch,
  AttemptRecord,
  HostFailure,
  InstanceOwner,
  JobRecord,
  NewAttempt,
  NewTimelineEntry,
  TimelineEntry,
} from "./records";

export interface NewJob {
  jobId: string;
  request: JobRequest;
  /** sha256 of the canonical request body, compared when the idempotency key is reused. */
  requestHash: string;
}

export interface TransitionOptions {
  /** Added to the job's spentUsd in the same write. */
  addSpentUsd?: number;
  details?: Record<string, unknown>;
  /** The collected LoRA, recorded on the job by a final `artifact_collected` transition. */
  artifact?: Artifact;
}

/** How an attempt ended: it is priced, and its cost is charged to the job, exactly once. */
export interface AttemptEnd {
  outcome: Extract<AttemptOutcome, "failed" | "succeeded">;
  endedAt: number;
  costUsd: number;
  failureReason?: string;
}

export interface EndedAttemptResult {
  job: JobRecord;
  attempt: AttemptRecord;
  /** False when the attempt had already ended (a redelivery): nothing was written or charged. */
  charged: boolean;
}

export interface JobStore {
  /** Stores a new job atomically with its idempotency record; an existing key with the same body
   * returns the existing job (`created: false`); a different body throws IdempotencyConflictError. */
  createJob(input: NewJob): Promise<{ job: JobRecord; created: boolean }>;
  getJob(jobId: string): Promise<JobRecord | null>;
  /** Applies a state-machine event if the job is still at `expectedVersion` (VersionConflictError
   * otherwise; IllegalTransitionError if the event does not apply), and appends it to the timeline. */
  transition(
    jobId: string,
    expectedVersion: number,
    event: JobEvent,
    options?: TransitionOptions,
  ): Promise<JobRecord>;
  /** Records an attempt before its create call: the attempt item must be new and the job still
   * at `expectedVersion`; the job's `attempt` moves to the new number. */
  recordAttemptStarted(jobId: string, expectedVersion: number, attempt: NewAttempt): Promise<JobRecord>;
  /** Records the rented instance on the attempt and the instance → job mapping; idempotent for
   * the same id, refused for a different one (an attempt holds at most one instance). */
  recordInstanceId(jobId: string, attempt: number, instanceId: number): Promise<AttemptRecord>;
  updateAttempt(jobId: string, attempt: number, patch: AttemptPatch): Promise<AttemptRecord>;
  /** Ends an attempt that has not ended yet and adds its cost to the job's spentUsd (and, for a job
   * that already ended, to its final costUsd) in one write conditional on `expectedVersion`; an
   * attempt that already ended is left as it is (`charged: false`). VersionConflictError when the
   * job moved on. */
  endAttempt(
    jobId: string,
    expectedVersion: number,
    attempt: number,
    end: AttemptEnd,
  ): Promise<EndedAttemptResult>;
  /** Pins the SSH host key on first contact; returns the fingerprint now pinned (which may be an
   * earlier one, if another writer pinned first). */
  pinHostKey(jobId: string, attempt: number, fingerprint: string): Promise<string>;
  getAttempt(jobId: string, attempt: number): Promise<AttemptRecord | null>;
  listAttempts(jobId: string): Promise<AttemptRecord[]>;
  findJobByInstanceId(instanceId: number): Promise<InstanceOwner | null>;
  /** Active jobs in `state`, oldest first, through the state index (a Query, never a Scan). */
  listActiveJobs(
    state: JobRecord["state"],
    options?: { limit?: number; cursor?: string },
  ): Promise<{ jobs: JobRecord[]; cursor: string | null }>;
  /** Appends a free-standing entry (diagnostics, notes); give it the job version it belongs to. */
  appendTimeline(jobId: string, entry: NewTimelineEntry): Promise<void>;
  /** The timeline in causal order (job version, then time). */
  getTimeline(jobId: string): Promise<TimelineEntry[]>;
  /** Idempotent per (machine, job, attempt); returns false when it was already recorded. */
  recordHostFailure(failure: HostFailure): Promise<boolean>;
  recentHostFailures(machineId: number, sinceMs: number): Promise<HostFailure[]>;
  /** Machines with at least one failure since `sinceMs`. */
  recentlyFailedMachines(sinceMs: number): Promise<Set<number>>;
  /** A time-bounded exclusive claim on some work for a job; true when `owner` holds it. */
  acquireLease(jobId: string, name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(jobId: string, name: string, owner: string): Promise<void>;
}
