/**
 * The completion check: the entry point the scheduled poller calls for every job in `training`
 * or `collecting`. One SSH round trip reads the run's state; then, at most one of:
 * - running: progress goes to the timeline only when it moved by a meaningful share (no write
 *   per poll); a stale heartbeat, the max runtime or the budget ends the run (instance destroyed);
 * - failed: the log tail is kept, the instance destroyed, the job fails with a readable reason;
 * - succeeded: `training → collecting`, the artifact is streamed to S3 (size and sha256 checked),
 *   the instance destroyed, the attempt priced, `collecting → succeeded`, the callback sent.
 *
 * A lease (`completion`) keeps two pollers from acting on one job at once; every state change is
 * a versioned transition; `collecting` is resumable (the artifact, once stored, is remembered in
 * the timeline, so a crash between collect and destroy neither re-collects nor leaks). Every
 * ending goes through `endAttempt`: the instance is destroyed before the job ends.
 */
import { randomUUID } from "node:crypto";
import { errorText } from "../observability";
import { SshHostKeyMismatchError, type SshSession } from "../ssh";
import {
  type Artifact,
  type AttemptRecord,
  type JobRecord,
  type TransitionOptions,
  VersionConflictError,
} from "../store";
import { ArtifactMissingError, checkTraining, collectArtifact, type TrainingCheck } from "../training";
import {
  type AttemptEnding,
  AttemptEndingTakenError,
  claimedOutcome,
  type EndedAttempt,
  endAttempt,
  finishJob,
  resumeEnding,
  totalCost,
} from "./attempts";
import { type CompletionDeps, redactFor, settingsOf } from "./deps";
import { applyEvent } from "./lifecycle";
import { runningLimitExceeded } from "./limits";
import { estimateRunEnd, type RunProgressSample } from "./run-end";
import type { CompletionSettings } from "./settings";
import type { JobState } from "./state-machine";

export type StoredArtifact = Artifact;

export type CompletionAction =
  | "skipped"
  | "busy"
  | "unreachable"
  | "running"
  | "succeeded"
  | "failed"
  /** The check itself failed (store, S3); the next sweep retries. */
  | "error";

export interface CompletionResult {
  jobId: string;
  action: CompletionAction;
  /** Why nothing happened, or why the job ended. */
  reason?: string;
  state?: JobState;
  progress?: { step: number; totalSteps: number } | null;
  /** True when this call wrote a progress note to the timeline. */
  progressRecorded?: boolean;
  /** A running run's estimated end on our clock (ms), from its step progress; null when unknown. */
  estimatedEndAt?: number | null;
  artifact?: StoredArtifact;
  /** The job's total spend once it ended. */
  costUsd?: number;
}

export const COMPLETION_LEASE = "completion";

export function artifactKey(jobId: string, name: string = jobId): string {
  return `artifacts/${jobId}/${name}.safetensors`;
}

export interface CompletionCheckOptions {
  /** Stops connecting when it fires (the poller's run budget). */
  signal?: AbortSignal;
}

export async function checkJobTraining(
  deps: CompletionDeps,
  jobId: string,
  options: CompletionCheckOptions = {},
): Promise<CompletionResult> {
  const first = await deps.store.getJob(jobId);
  if (!isCheckable(first)) return notCheckable(jobId, first);
  const settings = settingsOf(deps).completion;
  const owner = `completion:${randomUUID()}`;
  if (!(await deps.store.acquireLease(jobId, COMPLETION_LEASE, owner, settings.leaseMs))) {
    return { jobId, action: "busy", reason: "another check holds the job", state: first.state };
  }
  try {
    // Read again under the lease: another check may have finished the job meanwhile.
    const job = await deps.store.getJob(jobId);
    if (!isCheckable(job)) return notCheckable(jobId, job);
    const record = await deps.store.getAttempt(jobId, job.attempt);
    if (!record || record.instanceId === null) {
      // Nothing rented to destroy: the record is inconsistent, so end the job rather than poll forever.
      const reason = `job ${job.state} without a reachable instance on record for attempt ${job.attempt}`;
      return done(await finishJob(deps, job, { type: "fail", reason }), reason);
    }
    return await checkUnderLease(deps, settings, job, record, options);
  } finally {
    await deps.store.releaseLease(jobId, COMPLETION_LEASE, owner);
  }
}

function isCheckable(job: JobRecord | null): job is JobRecord {
  return job !== null && (job.state === "training" || job.state === "collecting");
}

function notCheckable(jobId: string, job: JobRecord | null): CompletionResult {
  return {
    jobId,
    action: "skipped",
    reason: job ? `job is ${job.state}` : "job not found",
    state: job?.state,
  };
}

async function checkUnderLease(
  deps: CompletionDeps,
  settings: CompletionSettings,
  job: JobRecord,
  record: AttemptRecord,
  options: CompletionCheckOptions,
): Promise<CompletionResult> {
  const { jobId } = job;
  const now = deps.clock.now();
  const grace = job.state === "collecting" ? settings.collectGraceMs : 0;

  if (job.state === "collecting" && claimedOutcome(job, record) !== "failed") {
    // Stored already: a crash between collecting and ending; finish (destroy, charge, succeed).
    // (An ending claimed first by a cancel or a limit stands: resumed below.)
    const stored = await storedArtifact(deps, jobId, record.attempt);
    if (stored) return await finishSucceeded(deps, job, record, stored);
  }
  if (record.endedAt !== null || record.endRequestedAt !== null) {
    // Someone began ending the attempt (an earlier check, a cancel, an operator's terminate) and
    // did not finish: finish that.
    const resumed = await resumeEnding(deps, job, record);
    if (resumed && !stillOn(resumed.job, record)) {
      return done(resumed.job, resumed.job.reason ?? "the attempt ended");
    }
    // The attempt is over yet the job did not move (a finished run cannot go to another GPU, so
    // "try another GPU" leaves a collecting job where it was): nothing is left to check, and
    // replaying that ending on every check would keep the job here forever. End it.
    return await failRun(deps, resumed?.job ?? job, record, { reason: endedRunReason(job, record) });
  }
  if (!record.sshHost || record.sshPort === null) {
    return await failRun(deps, job, record, { reason: "no SSH endpoint is recorded for the instance" });
  }
  if (job.state === "collecting") {
    const limit = runningLimitExceeded(job, record, now, grace);
    if (limit)
      return await failRun(deps, job, record, { reason: `Stopped while collecting the LoRA: ${limit}.` });
    // Collecting since the run finished (the transition's time): a LoRA that cannot be stored
    // (a bucket refusing writes, a file that never verifies) must not keep the GPU for hours.
    if (now - job.updatedAt > settings.collectTimeoutMs) {
      const minutes = Math.round(settings.collectTimeoutMs / 60_000);
      return await failRun(deps, job, record, {
        reason: `Training finished but its LoRA could not be collected within ${minutes} minutes; the instance was destroyed.`,
      });
    }
  }

  let session: SshSession;
  try {
    session = await deps.ssh(
      { host: record.sshHost, port: record.sshPort, expectedHostKey: record.hostKeyFingerprint ?? undefined },
      { signal: options.signal },
    );
  } catch (error) {
    if (error instanceof SshHostKeyMismatchError) {
      return await failRun(deps, job, record, {
        reason: `The instance's SSH host key changed during training (${error.actual} instead of ${error.expected}); its output cannot be trusted and it was destroyed.`,
        hostFailure: true,
      });
    }
    const limit = runningLimitExceeded(job, record, now, grace);
    if (limit) {
      return await failRun(deps, job, record, {
        reason: `Stopped: ${limit} (the instance was unreachable over SSH: ${errorText(error)}).`,
      });
    }
    deps.logger.warn("training check: instance unreachable", { jobId, error: errorText(error) });
    return { jobId, action: "unreachable", reason: errorText(error), state: job.state };
  }

  // Act on what the instance said only once the session is closed: destroying an instance under
  // an open SSH session would cut its requests short (the transport would only log that).
  let then: () => Promise<CompletionResult>;
  try {
    then = await inspect(deps, settings, job, record, session, now);
  } finally {
    await session.close().catch(() => {});
  }
  return await then();
}

type Then = () => Promise<CompletionResult>;

async function inspect(
  deps: CompletionDeps,
  settings: CompletionSettings,
  job: JobRecord,
  record: AttemptRecord,
  session: SshSession,
  now: number,
): Promise<Then> {
  const { jobId } = job;
  if (job.state === "collecting") return await collect(deps, job, record, session);

  const check = await checkTraining(session, {
    jobId,
    workspaceRoot: settingsOf(deps).push.workspaceRoot,
    logTailLines: settings.logTailLines,
  });
  const failWith =
    (reason: string, hostFailure = false): Then =>
    () =>
      failRun(deps, job, record, { reason, diagnostics: diagnosticsOf(check), hostFailure });
  switch (check.status) {
    case "succeeded": {
      const collecting = await moveTo(deps, job, "training_finished", "training finished (exit code 0)", {
        details: { attempt: record.attempt, exitCode: 0, progress: check.progress },
      });
      if (!collecting) {
        return async () => ({ jobId, action: "skipped", reason: "job moved on", state: job.state });
      }
      return await collect(deps, collecting, record, session);
    }
    case "failed":
      return failWith(failedRunReason(check), check.exitCode === null);
    case "not_started":
      return failWith(
        "Training is not running on the instance and left no exit code (the instance may have been recycled).",
        true,
      );
    case "running": {
      if (check.heartbeatAgeSeconds !== null && check.heartbeatAgeSeconds > settings.staleHeartbeatSeconds) {
        return failWith(
          `Training stopped responding: no heartbeat for ${check.heartbeatAgeSeconds} s${lastLineSuffix(check)}.`,
          true,
        );
      }
      const limit = runningLimitExceeded(job, record, now);
      if (limit) return failWith(`Training stopped: ${limit}${progressSuffix(check)}.`);
      const { recorded: progressRecorded, previous } = await recordProgress(
        deps,
        settings,
        job,
        record,
        check,
      );
      const estimatedEndAt = check.progress
        ? estimateRunEnd({
            now,
            step: check.progress.step,
            totalSteps: check.progress.totalSteps,
            // The `training` transition is the job's last change while it trains.
            startedAt: job.updatedAt,
            previous,
          })
        : null;
      return async () => ({
        jobId,
        action: "running",
        state: job.state,
        progress: check.progress,
        progressRecorded,
        estimatedEndAt,
      });
    }
  }
}

/** Streams the artifact to S3 and remembers it in the timeline; the returned step finishes the job. */
async function collect(
  deps: CompletionDeps,
  job: JobRecord,
  record: AttemptRecord,
  session: SshSession,
): Promise<Then> {
  let artifact: StoredArtifact;
  try {
    const collected = await collectArtifact(session, {
      jobId: job.jobId,
      workspaceRoot: settingsOf(deps).push.workspaceRoot,
      s3: deps.s3,
      bucket: deps.artifactBucket,
      key: artifactKey(job.jobId),
      logger: deps.logger,
    });
    artifact = {
      bucket: collected.bucket,
      key: collected.key,
      bytes: collected.bytes,
      sha256: collected.sha256,
    };
  } catch (error) {
    // Only a missing file is final; transport, upload and verification errors retry on the next check.
    if (!(error instanceof ArtifactMissingError)) throw error;
    const reason = `Training reported success but its LoRA could not be collected: ${error.message}`;
    return () => failRun(deps, job, record, { reason });
  }
  // An ending that began while the LoRA was uploading (a cancel, an operator's terminate) has the
  // last word: the job is not ending as succeeded, so the LoRA is not recorded as its result.
  const [fresh, attemptNow] = await Promise.all([
    deps.store.getJob(job.jobId),
    deps.store.getAttempt(job.jobId, record.attempt),
  ]);
  if (
    fresh?.state !== "collecting" ||
    fresh.attempt !== record.attempt ||
    attemptNow?.endedAt !== null ||
    attemptNow.endRequestedAt !== null
  ) {
    const state = fresh?.state;
    return async () => ({
      jobId: job.jobId,
      action: "skipped",
      reason: "the job began ending otherwise while its LoRA was being stored",
      state,
    });
  }
  await deps.store.appendTimeline(job.jobId, {
    at: deps.clock.now(),
    version: job.version,
    kind: "note",
    reason: `artifact stored at s3://${artifact.bucket}/${artifact.key} (${artifact.bytes} bytes, sha256 ${artifact.sha256})`,
    details: { kind: "artifact", attempt: record.attempt, ...artifact },
  });
  return () => finishSucceeded(deps, job, record, artifact);
}

async function finishSucceeded(
  deps: CompletionDeps,
  job: JobRecord,
  record: AttemptRecord,
  artifact: StoredArtifact,
): Promise<CompletionResult> {
  const where = `LoRA stored at s3://${artifact.bucket}/${artifact.key} (${artifact.bytes} bytes, sha256 ${artifact.sha256})`;
  // Destroy and charge first, so the final reason can state the cost. The ending is claimed for
  // the LoRA by one conditional write; a cancel or a limit that claimed it first has the last word.
  let ended: EndedAttempt;
  try {
    ended = await endAttempt(
      deps,
      job,
      record,
      { outcome: "succeeded", reason: where },
      { next: "continue" },
    );
  } catch (error) {
    if (!(error instanceof AttemptEndingTakenError)) throw error;
    const state = (await deps.store.getJob(job.jobId))?.state;
    return {
      jobId: job.jobId,
      action: "skipped",
      reason: "the job began ending otherwise while its LoRA was being stored",
      state,
    };
  }
  const charged = ended.job;
  const b = charged.costBreakdown;
  const reason =
    `${where}; instance ${record.instanceId} destroyed; cost $${charged.spentUsd.toFixed(4)} ` +
    `(GPU $${b.gpuUsd.toFixed(4)}, storage $${b.storageUsd.toFixed(4)}, bandwidth $${b.bandwidthUsd.toFixed(4)}; ` +
    `attempt ${record.attempt}: $${totalCost(ended.cost).toFixed(4)})`;
  const next = await finishJob(
    deps,
    charged,
    { type: "artifact_collected", reason },
    {
      artifact,
      details: {
        attempt: record.attempt,
        artifact,
        costUsd: charged.spentUsd,
        costBreakdown: b,
        attemptCost: ended.cost,
      },
    },
  );
  if (next.state !== "succeeded") {
    return {
      jobId: job.jobId,
      action: "skipped",
      reason: `job moved on to ${next.state}`,
      state: next.state,
    };
  }
  return {
    jobId: job.jobId,
    action: "succeeded",
    state: next.state,
    artifact,
    costUsd: next.costUsd ?? next.spentUsd,
    reason,
  };
}

async function failRun(
  deps: CompletionDeps,
  job: JobRecord,
  record: AttemptRecord,
  ending: Omit<AttemptEnding, "outcome">,
): Promise<CompletionResult> {
  const reason = redactFor(deps)(ending.reason);
  const ended = await endAttempt(
    deps,
    job,
    record,
    { ...ending, outcome: "failed" },
    { next: "finish", event: { type: "fail", reason } },
  );
  return done(ended.job, ended.job.reason ?? reason);
}

/** Still on this attempt's run: the ending of the attempt did not move the job on. */
function stillOn(job: JobRecord, record: AttemptRecord): boolean {
  return isCheckable(job) && job.attempt === record.attempt;
}

function endedRunReason(job: JobRecord, record: AttemptRecord): string {
  const why = record.endIntent?.reason ?? record.failureReason;
  if (job.state === "collecting") {
    return (
      `Attempt ${record.attempt} ended while its LoRA was being collected${why ? ` (${why})` : ""}; ` +
      "its instance is destroyed, so the finished run can no longer be collected."
    );
  }
  return why ?? "the training attempt failed";
}

function done(job: JobRecord, reason: string): CompletionResult {
  return {
    jobId: job.jobId,
    action: "failed",
    reason,
    state: job.state,
    costUsd: job.costUsd ?? job.spentUsd,
  };
}

/** Applies an event; a concurrent winner is fine (null: the job is no longer where we thought). */
async function moveTo(
  deps: CompletionDeps,
  job: JobRecord,
  type: "training_finished",
  reason: string,
  options: TransitionOptions,
): Promise<JobRecord | null> {
  try {
    return await applyEvent(deps, job, { type, reason }, options);
  } catch (error) {
    if (!(error instanceof VersionConflictError)) throw error;
    deps.logger.info("job moved on during the completion check", { jobId: job.jobId, event: type });
    return null;
  }
}

/** The LoRA stored for `attempt` (remembered in the timeline), if it was stored. */
export async function storedArtifact(
  deps: Pick<CompletionDeps, "store">,
  jobId: string,
  attempt: number,
): Promise<StoredArtifact | null> {
  const timeline = await deps.store.getTimeline(jobId);
  for (const entry of timeline.toReversed()) {
    const d = entry.details;
    if (d.kind === "artifact" && d.attempt === attempt) {
      return {
        bucket: String(d.bucket),
        key: String(d.key),
        bytes: Number(d.bytes),
        sha256: String(d.sha256),
      };
    }
  }
  return null;
}

/**
 * Writes progress only when it moved by `progressRecordFraction` of the run since the last note;
 * also returns that last note (an earlier reading of the run, for its end's estimate).
 */
async function recordProgress(
  deps: CompletionDeps,
  settings: CompletionSettings,
  job: JobRecord,
  record: AttemptRecord,
  check: TrainingCheck,
): Promise<{ recorded: boolean; previous: RunProgressSample | null }> {
  const progress = check.progress;
  if (!progress) return { recorded: false, previous: null };
  const timeline = await deps.store.getTimeline(job.jobId);
  const last = timeline.findLast(
    (e) => e.details.kind === "progress" && e.details.attempt === record.attempt,
  );
  const lastStep = typeof last?.details.step === "number" ? last.details.step : null;
  const lastTotal = typeof last?.details.totalSteps === "number" ? last.details.totalSteps : null;
  const previous =
    last && lastStep !== null && lastTotal === progress.totalSteps ? { step: lastStep, at: last.at } : null;
  const moved =
    lastStep === null ||
    lastTotal !== progress.totalSteps ||
    progress.step - lastStep >= Math.max(1, progress.totalSteps * settings.progressRecordFraction);
  if (!moved) return { recorded: false, previous };
  await deps.store.appendTimeline(job.jobId, {
    at: deps.clock.now(),
    version: job.version,
    kind: "note",
    reason: `training step ${progress.step}/${progress.totalSteps}`,
    details: {
      kind: "progress",
      attempt: record.attempt,
      step: progress.step,
      totalSteps: progress.totalSteps,
      heartbeatAgeSeconds: check.heartbeatAgeSeconds,
    },
  });
  return { recorded: true, previous };
}

function lastLogLine(check: TrainingCheck): string | null {
  const lines = check.logTail.split("\n").filter((l) => l.trim() !== "");
  return lines.at(-1)?.trim().slice(0, 500) ?? null;
}

function lastLineSuffix(check: TrainingCheck): string {
  const line = lastLogLine(check);
  return line ? ` (last log line: ${line})` : "";
}

function progressSuffix(check: TrainingCheck): string {
  return check.progress ? ` at step ${check.progress.step}/${check.progress.totalSteps}` : "";
}

export function failedRunReason(check: TrainingCheck): string {
  const line = lastLogLine(check);
  const head =
    check.exitCode !== null
      ? `training exited with code ${check.exitCode}`
      : `training failed: ${check.reason ?? "the process is gone without an exit code"}`;
  return line ? `${head}: ${line}` : head;
}

function diagnosticsOf(check: TrainingCheck): Record<string, unknown> {
  return {
    exitCode: check.exitCode,
    progress: check.progress,
    heartbeatAgeSeconds: check.heartbeatAgeSeconds,
    pid: check.pid,
    logTail: check.logTail.slice(-8000),
  };
}
