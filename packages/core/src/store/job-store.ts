/**
 * The store port: everything the handlers read and write about jobs. `DynamoJobStore` is the
 * implementation; the interface exists so the orchestration code names what it needs.
 */

import type { JobRequest } from "../jobs/request";
import type { JobEvent } from "../jobs/state-machine";
import type {
  Artifact,
  AttemptEndIntent,
  AttemptOutcome,
  AttemptPatch,
  AttemptRecord,
  CostBreakdown,
  DatasetSummary,
  HostFailure,
  InstanceOwner,
  JobRecord,
  NewAttempt,
  NewTimelineEntry,
  StrayCharge,
  TimelineEntry,
  UnverifiedDestroy,
} from "./records";

export interface NewJob {
  jobId: string;
  request: JobRequest;
  /** sha256 of the canonical request body, compared when the idempotency key is reused. */
  requestHash: string;
}

export interface TransitionOptions {
  details?: Record<string, unknown>;
  /** The collected LoRA, recorded on the job by a final `artifact_collected` transition. */
  artifact?: Artifact;
}

/** How an attempt ended: it is priced, and its cost is charged to the job, exactly once. */
export interface AttemptEnd {
  outcome: Extract<AttemptOutcome, "failed" | "succeeded" | "not_rented">;
  endedAt: number;
  cost: CostBreakdown;
  failureReason?: string;
}

export interface AttemptKey {
  jobId: string;
  attempt: number;
}

export interface ListJobsOptions {
  /** Only these states (default: all, active ones first). */
  states?: readonly JobRecord["state"][];
  /** Default true: the newest first within each state. */
  newestFirst?: boolean;
  limit?: number;
  /** From the previous page; InvalidCursorError when it is not one this store handed out. */
  cursor?: string;
}

/** A time-bounded claim, as read back. */
export interface LeaseView {
  owner: string;
  leaseUntil: number;
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
   * otherwise; IllegalTransitionError if the event does not apply), and appends it to the timeline.
   * A transition to a terminal state also requires the job's latest attempt to have ended
   * (AttemptStillOpenError otherwise): no job ends while an attempt may hold a live instance. */
  transition(
    jobId: string,
    expectedVersion: number,
    event: JobEvent,
    options?: TransitionOptions,
  ): Promise<JobRecord>;
  /** Records an attempt before its create call: the attempt item must be new, the previous attempt
   * ended (AttemptStillOpenError otherwise: one rental at a time) and the job still at
   * `expectedVersion`; the job's `attempt` moves to the new number. */
  recordAttemptStarted(jobId: string, expectedVersion: number, attempt: NewAttempt): Promise<JobRecord>;
  /** Records the rented instance on the attempt and the instance → job mapping; idempotent for
   * the same id, refused for a different one (an attempt holds at most one instance), and refused
   * with AttemptEndedError once the attempt has ended or begun ending (the instance is then
   * nobody's: destroy it). */
  recordInstanceId(
    jobId: string,
    attempt: number,
    instanceId: number,
    /** When it was rented (default now); earlier for an instance found by label after its create. */
    rentedAt?: number,
  ): Promise<AttemptRecord>;
  /** Changes an open attempt; AttemptClosedError once its ending has begun. */
  updateAttempt(jobId: string, attempt: number, patch: AttemptPatch): Promise<AttemptRecord>;
  /** Marks the attempt as ending, with how the ending must finish (first caller's intent stands),
   * before anything is destroyed; returns the attempt as stored now. An ended attempt is returned
   * as it is. */
  requestAttemptEnd(
    jobId: string,
    attempt: number,
    intent: AttemptEndIntent,
    at: number,
  ): Promise<AttemptRecord>;
  /** Ends an attempt that has not ended yet and adds its cost to the job's spentUsd and breakdown
   * (and, for a job that already ended, to its final costUsd) in one write conditional on
   * `expectedVersion`; an attempt that already ended is left as it is (`charged: false`). An
   * attempt holding an instance whose destroy was not recorded cannot end (InstanceNotDestroyedError).
   * VersionConflictError when the job moved on. */
  endAttempt(
    jobId: string,
    expectedVersion: number,
    attempt: number,
    end: AttemptEnd,
  ): Promise<EndedAttemptResult>;
  /** Records that Vast accepted the destroy of the attempt's instance (first time wins) and lists the
   * attempt among the destroys the reaper must still see through. */
  markDestroyed(jobId: string, attempt: number, at: number): Promise<AttemptRecord>;
  /** Records that a destroy request for the attempt's instance is about to leave (latest wins; no-op
   * once the destroy is recorded). */
  markDestroySent(jobId: string, attempt: number, at: number): Promise<void>;
  /** Vast no longer lists the instance: the destroy is done. */
  markDestroyVerified(jobId: string, attempt: number, at: number): Promise<void>;
  /** Destroys accepted by Vast but not yet seen through, oldest first (a Query on the index). */
  listUnverifiedDestroys(): Promise<UnverifiedDestroy[]>;
  /** Claims readiness check `check` of an attempt for one SQS message: true for a higher check
   * than any claimed so far, or for the same check by the same message (its redelivery). */
  claimReadinessCheck(
    jobId: string,
    attempt: number,
    check: number,
    messageId: string,
    at: number,
  ): Promise<boolean>;
  /** Charges a stray instance to its job, once per instance; false when it was already charged. */
  chargeStray(charge: StrayCharge): Promise<boolean>;
  /** Records the dataset check on the job (conditional on `expectedVersion`). */
  recordDatasetSummary(jobId: string, expectedVersion: number, summary: DatasetSummary): Promise<JobRecord>;
  /** When the reaper first saw an instance it cannot trace to any job (recorded on first sight,
   * forgotten by TTL a week later). */
  orphanFirstSeen(instanceId: number, at: number): Promise<number>;
  /** Pins the SSH host key on first contact; returns the fingerprint now pinned (which may be an
   * earlier one, if another writer pinned first). */
  pinHostKey(jobId: string, attempt: number, fingerprint: string): Promise<string>;
  getAttempt(jobId: string, attempt: number): Promise<AttemptRecord | null>;
  /** Many attempts at once (missing ones are left out); for the reaper's one pass. */
  getAttempts(keys: readonly AttemptKey[]): Promise<AttemptRecord[]>;
  /** Many jobs at once (missing ones are left out). */
  getJobs(jobIds: readonly string[]): Promise<JobRecord[]>;
  listAttempts(jobId: string): Promise<AttemptRecord[]>;
  findJobByInstanceId(instanceId: number): Promise<InstanceOwner | null>;
  /** Active jobs in `state`, oldest first, through the state index (a Query, never a Scan). */
  listActiveJobs(
    state: JobRecord["state"],
    options?: { limit?: number; cursor?: string },
  ): Promise<{ jobs: JobRecord[]; cursor: string | null }>;
  /** Jobs by state, paged (Queries on the state index; ended jobs stay listed until TTL). */
  listJobs(options?: ListJobsOptions): Promise<{ jobs: JobRecord[]; cursor: string | null }>;
  /** Records `id` of `kind` once: true the first time, false while the record lives (`ttlSeconds`). */
  recordOnce(kind: string, id: string, ttlSeconds: number): Promise<boolean>;
  /** Removes what `recordOnce` recorded, so `id` of `kind` counts as new again; no record is no error. */
  forgetOnce(kind: string, id: string): Promise<void>;
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
  /** The job's lease `name` as stored (possibly expired), or null. */
  getLease(jobId: string, name: string): Promise<LeaseView | null>;
  /** A lease on system-wide work (the reaper's run), same semantics as `acquireLease`. */
  acquireSystemLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseSystemLease(name: string, owner: string): Promise<void>;
}
