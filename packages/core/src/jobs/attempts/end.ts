/**
 * The one way a rental ends. Every path that ends an attempt or a job — readiness giving up on a
 * boot, a failed push, a finished or failed training run, a cancel, the reaper, the last delivery
 * of a queue message — goes through `endAttempt` or `finishJob`:
 *
 *   diagnostics kept → instance destroyed (and looked at once more) → attempt priced and charged
 *   once → failing host remembered → next attempt, or the job's final transition and callback.
 *
 * Each step survives a crash before the next: a retry finds the destroy recorded and the charge
 * made, and carries on from there. The store backs this up: a job cannot take a terminal
 * transition while its latest attempt is open, and an attempt holding an instance cannot end
 * before Vast accepted the destroy — so no code path can end a job and forget its GPU.
 */
import { errorText } from "../../observability";
import {
  AttemptClosedError,
  type AttemptEndIntent,
  type AttemptRecord,
  AttemptStillOpenError,
  type CostBreakdown,
  InstanceNotDestroyedError,
  type JobRecord,
  type TransitionOptions,
  VersionConflictError,
} from "../../store";
import { announce } from "../announce";
import { type JobDeps, redactFor, settingsOf } from "../deps";
import { applyEvent } from "../lifecycle";
import { limitExceeded } from "../limits";
import { canTransition, IllegalTransitionError, isTerminal } from "../state-machine";
import { attemptCost } from "./billing";
import { releaseInstance } from "./release";
import { giveUpReason, rentalsSoFar } from "./rentals";

/**
 * The attempt's ending was claimed first with the other outcome: the completion check claimed it
 * for the stored LoRA (`succeeded`) before a cancel, a limit or an operator's terminate could, or
 * one of those claimed it before the completion check. The first claim stands (one conditional
 * write decides), and whoever made it sees the ending through; the loser changes nothing.
 */
export class AttemptEndingTakenError extends Error {
  override readonly name = "AttemptEndingTakenError";
  constructor(
    readonly jobId: string,
    readonly attempt: number,
    /** The outcome the first claim stands for. */
    readonly outcome: AttemptEnding["outcome"],
  ) {
    super(`attempt ${attempt} of job ${jobId} is already ending as ${outcome}`);
  }
}

/** Conflicting writers are rare and brief; past this many rounds the conflict is reported. */
const MAX_ROUNDS = 6;

export interface TerminalEvent {
  type: "fail" | "cancel" | "artifact_collected";
  /** Why, in words a person understands: it becomes the job's reason. */
  reason: string;
}

export interface AttemptEnding {
  /** `succeeded` only once the artifact is stored. An attempt that never held an instance ends
   * as `not_rented` whatever is asked. */
  outcome: "failed" | "succeeded";
  /** Why, for a person: recorded on the attempt; also the job's reason when the job fails. */
  reason: string;
  /** Kept in the timeline before the instance (and its logs) are gone. */
  diagnostics?: Record<string, unknown>;
  /** Fetch the instance's Vast log tail into the diagnostics before destroying it. */
  captureInstanceLogs?: boolean;
  /** The machine misbehaved (not the job's input): remember it so it is not rented again. */
  hostFailure?: boolean;
}

export type AfterAttempt =
  /** The caller carries on itself (a provisioning pass moving to its next offer). */
  | { next: "continue" }
  /** Another attempt if attempts, time and budget allow; otherwise the job fails. */
  | { next: "retry" }
  /** The job ends with this event. */
  | { next: "finish"; event: TerminalEvent; options?: TransitionOptions };

export interface EndedAttempt {
  /** The job as it stands afterwards. */
  job: JobRecord;
  /** What the attempt cost (as charged the first time it ended). */
  cost: CostBreakdown;
  /** True when another attempt was started. */
  retried: boolean;
}

export async function endAttempt(
  deps: JobDeps,
  jobBefore: JobRecord,
  recordBefore: AttemptRecord,
  ending: AttemptEnding,
  after: AfterAttempt,
): Promise<EndedAttempt> {
  const redact = redactFor(deps);
  const reason = redact(ending.reason);
  let record = recordBefore;
  if (record.endedAt === null) {
    if (record.endRequestedAt === null) {
      record = await noteGpuStart(deps, record);
      await keepDiagnostics(deps, jobBefore, record, reason, ending);
      // Before anything is destroyed: from here on the attempt takes no instance, and whoever
      // comes after a crash finishes this ending the way it was meant (see resumeEnding).
      record = await deps.store.requestAttemptEnd(
        jobBefore.jobId,
        record.attempt,
        intentOf(ending, after, reason),
        deps.clock.now(),
      );
    }
    // The outcome is the first claim's (see AttemptEndingTakenError): a cancel must not charge a
    // run as failed whose LoRA the completion check is recording, nor the reverse.
    const claimed = claimedOutcome(jobBefore, record);
    if (claimed !== null && claimed !== ending.outcome) {
      throw new AttemptEndingTakenError(jobBefore.jobId, record.attempt, claimed);
    }
    // Fresh from the store: an instance recorded a moment ago is destroyed too.
    if (record.endedAt === null && record.destroyedAt === null && record.instanceId !== null) {
      record = await releaseInstance(deps, record);
      await announce(
        deps,
        jobBefore,
        {
          detailType: "Instance Terminated",
          detail: {
            jobId: jobBefore.jobId,
            attempt: record.attempt,
            instanceId: record.instanceId as number,
            reason,
          },
        },
        `instance-${record.instanceId}`,
      );
    }
  }
  const { job, attempt } = await chargeOnce(deps, jobBefore, record, ending, reason);
  const cost = attempt.cost ?? { gpuUsd: attempt.costUsd ?? 0, storageUsd: 0, bandwidthUsd: 0 };
  if (ending.hostFailure && record.machineId !== null && record.instanceId !== null) {
    await deps.store.recordHostFailure({
      machineId: record.machineId,
      jobId: job.jobId,
      attempt: record.attempt,
      at: attempt.endedAt ?? deps.clock.now(),
      reason,
    });
  }
  switch (after.next) {
    case "continue":
      return { job, cost, retried: false };
    case "finish":
      return { job: await commitTerminal(deps, job, after.event, after.options), cost, retried: false };
    case "retry": {
      const moved = await moveOn(deps, job, record, reason);
      return { job: moved.job, cost, retried: moved.retried };
    }
  }
}

/**
 * Finishes an ending some step began (its intent is on the attempt) and did not see through — a
 * crash between the destroy and the books, say — the way that step meant it to finish. Returns
 * null for an attempt nobody began ending. An ending meant to collect an artifact is the
 * completion check's to finish: it knows where the artifact was stored.
 */
export async function resumeEnding(
  deps: JobDeps,
  job: JobRecord,
  record: AttemptRecord,
): Promise<EndedAttempt | null> {
  const intent = record.endIntent;
  if (!intent) return null;
  const ending: AttemptEnding = {
    outcome: claimedOutcome(job, record) ?? "failed",
    reason: intent.reason,
    hostFailure: intent.hostFailure,
  };
  const after: AfterAttempt =
    intent.next === "finish" && intent.event && intent.event !== "artifact_collected"
      ? { next: "finish", event: { type: intent.event, reason: intent.reason } }
      : intent.next === "retry"
        ? { next: "retry" }
        : { next: "continue" };
  return await endAttempt(deps, job, record, ending, after);
}

/**
 * The outcome the attempt's ending stands for: as charged once it has ended, else as its recorded
 * intent claims it; null while nobody began ending it.
 */
export function claimedOutcome(
  job: Pick<JobRecord, "state">,
  record: Pick<AttemptRecord, "endedAt" | "outcome" | "endIntent">,
): AttemptEnding["outcome"] | null {
  if (record.endedAt !== null) return record.outcome === "succeeded" ? "succeeded" : "failed";
  const intent = record.endIntent;
  if (!intent) return null;
  if (intent.event === "artifact_collected") return "succeeded";
  // Written before intents named the LoRA's claim: the completion check's ending of a collecting
  // job was `continue` with no event, a shape no other step writes for a collecting job.
  if (job.state === "collecting" && intent.next === "continue" && intent.event === null) return "succeeded";
  return "failed";
}

function intentOf(ending: AttemptEnding, after: AfterAttempt, reason: string): AttemptEndIntent {
  return {
    next: after.next,
    // A succeeded ending is always the stored LoRA's, whoever finishes the job afterwards.
    event:
      after.next === "finish"
        ? after.event.type
        : ending.outcome === "succeeded"
          ? "artifact_collected"
          : null,
    reason: after.next === "finish" ? after.event.reason : reason,
    hostFailure: ending.hostFailure ?? false,
  };
}

/**
 * Ends the job with `event`, ending its open attempt first (destroying the instance). A job
 * already ended is returned as it is: whoever ended it first gave the reason.
 */
export async function finishJob(
  deps: JobDeps,
  jobBefore: JobRecord,
  event: TerminalEvent,
  options: TransitionOptions = {},
): Promise<JobRecord> {
  // Another attempt may be opened meanwhile (a provisioning pass): then that one is ended too.
  return await onFreshJob(deps, jobBefore, isAttemptStillOpen, async (job) => {
    if (isTerminal(job.state)) return job;
    const record = job.attempt > 0 ? await deps.store.getAttempt(job.jobId, job.attempt) : null;
    const outcome = event.type === "artifact_collected" ? "succeeded" : "failed";
    // An attempt already claimed (or charged) with the other outcome decides the job's end too: a
    // cancel arriving after the LoRA's run was charged as succeeded must not end the job cancelled.
    const claimed = record ? claimedOutcome(job, record) : null;
    if (record && claimed !== null && claimed !== outcome) {
      throw new AttemptEndingTakenError(job.jobId, record.attempt, claimed);
    }
    if (record && record.endedAt === null) {
      const ended = await endAttempt(
        deps,
        job,
        record,
        { outcome, reason: event.reason },
        { next: "finish", event, options },
      );
      return ended.job;
    }
    return await commitTerminal(deps, job, event, options);
  });
}

/** The terminal transition itself (attempts already ended), retried over version conflicts. */
async function commitTerminal(
  deps: JobDeps,
  jobBefore: JobRecord,
  event: TerminalEvent,
  options: TransitionOptions = {},
): Promise<JobRecord> {
  return await onFreshJob(deps, jobBefore, isConflict, async (job) => {
    if (isTerminal(job.state)) return job;
    if (!canTransition(job.state, event.type)) {
      // e.g. `artifact_collected` for a job that is no longer collecting: someone else decides.
      deps.logger.info("terminal event no longer applies", {
        jobId: job.jobId,
        state: job.state,
        event: event.type,
      });
      return job;
    }
    const ended = await applyEvent(deps, job, event, options);
    await announceOutcome(deps, ended);
    return ended;
  });
}

/** After a failed attempt: the next attempt, or the end of the job when none is allowed. */
async function moveOn(
  deps: JobDeps,
  jobBefore: JobRecord,
  record: AttemptRecord,
  reason: string,
): Promise<{ job: JobRecord; retried: boolean }> {
  return await onFreshJob(deps, jobBefore, isConflict, async (job) => {
    // Ended by someone else (a cancel won the race), or already handed back to provisioning.
    if (isTerminal(job.state) || job.attempt !== record.attempt) return { job, retried: false };
    // provisioning: the pass that opened the attempt carries on itself. collecting: a finished run
    // cannot move to another GPU; the completion check ends the job (it knows whether the LoRA
    // was stored first).
    if (!canTransition(job.state, "attempt_failed")) return { job, retried: false };
    const attempts = await deps.store.listAttempts(job.jobId);
    const limit = limitExceeded(job, deps.clock.now());
    if (rentalsSoFar(attempts) >= job.request.maxAttempts || limit) {
      const why = limit
        ? `Stopped after attempt ${record.attempt} (${reason}): ${limit}.`
        : giveUpReason(job, attempts);
      return { job: await commitTerminal(deps, job, { type: "fail", reason: why }), retried: false };
    }
    const next = await applyEvent(
      deps,
      job,
      { type: "attempt_failed", reason: `attempt ${record.attempt} abandoned: ${reason}` },
      { details: { attempt: record.attempt, instanceId: record.instanceId } },
    );
    // After the transition: a crash in between leaves a provisioning job with no message, which
    // the reaper hands its provision step again (a message first would find the job not yet moved).
    await deps.queue.enqueue({ type: "provision", jobId: job.jobId });
    return { job: next, retried: true };
  });
}

/** Ends and charges the attempt once; a concurrent or earlier end stands as it was. */
async function chargeOnce(
  deps: JobDeps,
  jobBefore: JobRecord,
  recordBefore: AttemptRecord,
  ending: AttemptEnding,
  reason: string,
): Promise<{ job: JobRecord; attempt: AttemptRecord }> {
  return await onFreshJob(deps, jobBefore, isConflict, async (job) => {
    // Fresh: readiness and the push add what the bill depends on (running since, bytes pushed).
    const record = (await deps.store.getAttempt(job.jobId, recordBefore.attempt)) ?? recordBefore;
    if (record.endedAt !== null) return { job, attempt: record };
    const endedAt = record.destroyedAt ?? deps.clock.now();
    const result = await deps.store.endAttempt(job.jobId, job.version, record.attempt, {
      outcome: record.instanceId === null ? "not_rented" : ending.outcome,
      endedAt,
      cost: attemptCost(record, endedAt),
      failureReason: ending.outcome === "failed" ? reason : undefined,
    });
    return { job: result.job, attempt: result.attempt };
  });
}

const isConflict = (error: unknown) =>
  error instanceof VersionConflictError || error instanceof IllegalTransitionError;
/** A change raced the ending: another attempt opened, or an instance was recorded as it ended. */
const isAttemptStillOpen = (error: unknown) =>
  error instanceof AttemptStillOpenError || error instanceof InstanceNotDestroyedError || isConflict(error);

/**
 * Runs `step` on the job, and again on a fresh read when another writer got in between (an error
 * `retryable` accepts): conflicting writers are rare and brief, so a few rounds settle it.
 */
async function onFreshJob<T>(
  deps: JobDeps,
  jobBefore: JobRecord,
  retryable: (error: unknown) => boolean,
  step: (job: JobRecord) => Promise<T>,
): Promise<T> {
  let job = jobBefore;
  for (let round = 1; ; round++) {
    try {
      return await step(job);
    } catch (error) {
      if (!retryable(error) || round >= MAX_ROUNDS) throw error;
      job = (await deps.store.getJob(job.jobId)) ?? job;
    }
  }
}

/**
 * The GPU bills from Vast's start date, which readiness records the first time it sees the
 * instance running. An attempt ended before that (a boot that never answered SSH, a cancel or a
 * crash while it booted) would be charged its disk alone for a GPU Vast billed all along: one look
 * at the instance first, while the attempt still takes changes.
 */
async function noteGpuStart(deps: JobDeps, record: AttemptRecord): Promise<AttemptRecord> {
  if (record.instanceId === null || record.runningSince !== null || record.destroyedAt !== null)
    return record;
  try {
    const instance = await deps.vast.getInstanceStatus(record.instanceId);
    const since =
      instance.state === "running" ? (instance.startedAtMs ?? deps.clock.now()) : instance.startedAtMs;
    if (since === null) return record;
    return await deps.store.updateAttempt(record.jobId, record.attempt, { runningSince: since });
  } catch (error) {
    // Someone else began the ending meanwhile: theirs stands, as the store has it.
    if (error instanceof AttemptClosedError)
      return (await deps.store.getAttempt(record.jobId, record.attempt)) ?? record;
    deps.logger.warn("could not read when the instance began billing its GPU", {
      jobId: record.jobId,
      attempt: record.attempt,
      instanceId: record.instanceId,
      error: errorText(error),
    });
    return record;
  }
}

async function keepDiagnostics(
  deps: JobDeps,
  job: JobRecord,
  record: AttemptRecord,
  reason: string,
  ending: AttemptEnding,
): Promise<void> {
  if (!ending.diagnostics && !ending.captureInstanceLogs) return;
  const redact = redactFor(deps);
  const details: Record<string, unknown> = {
    attempt: record.attempt,
    instanceId: record.instanceId,
    machineId: record.machineId,
    ...ending.diagnostics,
  };
  if (ending.captureInstanceLogs && record.instanceId !== null) {
    const lines = settingsOf(deps).provision.logTailLines;
    try {
      const logs = await deps.vast.getInstanceLogs(record.instanceId, lines);
      details.logTail = logs.split("\n").slice(-lines).join("\n").slice(-4000);
    } catch (error) {
      details.logTail = `(logs unavailable: ${errorText(error)})`;
    }
  }
  await deps.store.appendTimeline(job.jobId, {
    at: deps.clock.now(),
    version: job.version,
    kind: "diagnostics",
    reason: `attempt ${record.attempt}: ${reason}`,
    details: JSON.parse(redact(JSON.stringify(details))),
  });
}

/** `Job Succeeded` or `Job Failed`, with what it cost; a cancelled job has its state change only. */
async function announceOutcome(deps: JobDeps, job: JobRecord): Promise<void> {
  const costUsd = job.costUsd ?? job.spentUsd;
  if (job.state === "succeeded" && job.artifact) {
    const timeline = await deps.store.getTimeline(job.jobId);
    const started = timeline.find((entry) => entry.kind === "transition" && entry.to === "training");
    const endedAt = job.endedAt ?? deps.clock.now();
    await announce(
      deps,
      job,
      {
        detailType: "Job Succeeded",
        detail: {
          jobId: job.jobId,
          artifact: job.artifact,
          costUsd,
          costBreakdown: job.costBreakdown,
          timings: {
            submittedAt: job.createdAt,
            trainingStartedAt: started?.at ?? null,
            endedAt,
            totalSeconds: (endedAt - job.createdAt) / 1000,
          },
        },
      },
      "final",
    );
  } else if (job.state === "failed") {
    await announce(
      deps,
      job,
      {
        detailType: "Job Failed",
        detail: {
          jobId: job.jobId,
          reason: job.reason ?? "failed",
          costUsd,
          costBreakdown: job.costBreakdown,
        },
      },
      "final",
    );
  }
}
