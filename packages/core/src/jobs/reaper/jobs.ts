/**
 * The reaper's pass over live jobs (read from the state index, never a scan). For each, it
 * compares what the table believes with what Vast listed and finishes what a step left undone:
 * - an instance stopped, exited, offline or gone from Vast's list → attempt ended, job moved on
 *   (a stopped instance still pays for its disk, so it is destroyed rather than waited for);
 * - boot past its timeout, push past its timeout, budget or maximum runtime → attempt ended;
 * - a step whose message was lost (no lease held, no sign of life for `stuckAfterMs`) → its
 *   message is sent again;
 * - training → the completion check (progress, exit code, heartbeat; collect and destroy when done);
 *   a run whose estimated end falls before the next run gets a follow-up check from the provision
 *   queue, timed for its end (completion-follow-up.ts).
 * Work on a job is done under the lease its step uses, so the reaper never acts under a running step.
 */
import { randomUUID } from "node:crypto";
import type { AttemptRecord, JobRecord } from "../../store";
import type { InstanceState, VastInstance } from "../../vast";
import { type AttemptEnding, AttemptEndingTakenError, endAttempt, resumeEnding } from "../attempts";
import { COMPLETION_LEASE, checkJobTraining } from "../completion";
import { scheduleCompletionFollowUp } from "../completion-follow-up";
import { settingsOf } from "../deps";
import { runningLimitExceeded } from "../limits";
import { PROVISION_LEASE } from "../provision";
import { PUSH_LEASE } from "../push";
import { ACTIVE_STATES } from "../state-machine";
import type { ReaperAction } from "./actions";
import { count, forEachLimited, type ReaperRun } from "./context";

/** States of a live job's instance that mean it will not do the job's work. */
const UNWANTED_STATES: ReadonlySet<InstanceState> = new Set(["stopped", "exited", "failed", "offline"]);

/** An instance rented this recently may not be in a list fetched a moment before. */
const LIST_SETTLE_MS = 60_000;

/** Returns how many live jobs it saw. */
export async function reconcileJobs(run: ReaperRun): Promise<number> {
  const { store } = run.deps;
  const jobs: JobRecord[] = [];
  for (const state of ACTIVE_STATES) {
    let cursor: string | undefined;
    do {
      const page = await store.listActiveJobs(state, { limit: 100, cursor });
      jobs.push(...page.jobs);
      cursor = page.cursor ?? undefined;
    } while (cursor);
  }
  const attempts = new Map(
    (
      await store.getAttempts(
        jobs.filter((j) => j.attempt > 0).map((j) => ({ jobId: j.jobId, attempt: j.attempt })),
      )
    ).map((a) => [a.jobId, a]),
  );
  const checked = runsToCheck(run, jobs);
  await forEachLimited(
    run,
    jobs,
    run.settings.concurrency,
    (job) => reconcileJob(run, job, attempts.get(job.jobId) ?? null, checked.has(job.jobId)),
    (job) => ({ jobId: job.jobId, state: job.state }),
  );
  return jobs.length;
}

/**
 * The runs this run checks over SSH: at most `maxCompletionChecks`, a window that moves on every
 * minute so that with more runs than that none is left out for long. Every run gets the checks that
 * need no SSH (its instance's state, its limits) whatever the window.
 */
function runsToCheck(run: ReaperRun, jobs: readonly JobRecord[]): Set<string> {
  const runs = jobs.filter((j) => j.state === "training" || j.state === "collecting");
  const max = run.settings.maxCompletionChecks;
  if (runs.length <= max) return new Set(runs.map((j) => j.jobId));
  const start = (Math.floor(run.now / 60_000) * max) % runs.length;
  return new Set(Array.from({ length: max }, (_, i) => (runs[(start + i) % runs.length] as JobRecord).jobId));
}

async function reconcileJob(
  run: ReaperRun,
  job: JobRecord,
  attempt: AttemptRecord | null,
  sshCheck: boolean,
): Promise<void> {
  const { deps, settings, now } = run;
  const stale = (at: number | null) => at === null || now - at > settings.stuckAfterMs;
  switch (job.state) {
    case "queued":
      if (stale(job.updatedAt))
        await requeue(run, job, "requeued_provision", { type: "provision", jobId: job.jobId });
      return;
    case "provisioning":
      if (stale(job.updatedAt) && !(await leaseHeld(run, job, PROVISION_LEASE))) {
        await requeue(run, job, "requeued_provision", { type: "provision", jobId: job.jobId });
      }
      return;
    case "booting": {
      if (!attempt) return;
      if (await endIfBroken(run, job, attempt, "retry")) return;
      if (
        now - (attempt.rentedAt ?? attempt.startedAt) >
        job.request.bootTimeoutMinutes * 60_000 + settings.bootTimeoutSlackMs
      ) {
        await end(
          run,
          job,
          attempt,
          "boot_timeout_ended",
          {
            outcome: "failed",
            reason: `did not become ready within ${job.request.bootTimeoutMinutes} min`,
            hostFailure: true,
            captureInstanceLogs: true,
          },
          "retry",
        );
        return;
      }
      if (await endIfOverLimit(run, job, attempt)) return;
      // The readiness chain claims checks as it goes; silence means its message was lost.
      if (stale(attempt.readinessCheckAt ?? attempt.rentedAt)) {
        await requeue(run, job, "requeued_readiness", {
          type: "readiness",
          jobId: job.jobId,
          attempt: attempt.attempt,
          check: attempt.readinessCheck + 1,
        });
      }
      return;
    }
    case "pushing": {
      if (!attempt) return;
      // Under the push lease: a push running right now is left to finish or fail on its own.
      await withLease(run, job, PUSH_LEASE, async () => {
        if (await endIfBroken(run, job, attempt, "retry")) return;
        if (now - job.updatedAt > settings.pushTimeoutMs) {
          const minutes = Math.round(settings.pushTimeoutMs / 60_000);
          await end(
            run,
            job,
            attempt,
            "push_timeout_ended",
            { outcome: "failed", reason: `The dataset push did not finish within ${minutes} minutes.` },
            "fail",
          );
          return;
        }
        if (await endIfOverLimit(run, job, attempt)) return;
        if (stale(job.updatedAt)) {
          await requeue(run, job, "requeued_push", {
            type: "push",
            jobId: job.jobId,
            attempt: attempt.attempt,
          });
        }
      });
      return;
    }
    case "training":
    case "collecting": {
      if (!attempt) return;
      if (attempt.endRequestedAt !== null || attempt.endedAt !== null) {
        // An ending some check or cancel began: the completion check finishes it (it knows
        // whether the artifact was stored first) — once that step has had time to do it itself.
        if (stale(attempt.endRequestedAt ?? attempt.endedAt)) await completionCheck(run, job);
        return;
      }
      const after = job.state === "training" ? "retry" : "fail";
      const grace = job.state === "collecting" ? settingsOf(deps).completion.collectGraceMs : 0;
      const ended = await withLease(
        run,
        job,
        COMPLETION_LEASE,
        async () =>
          (await endIfBroken(run, job, attempt, after)) || (await endIfOverLimit(run, job, attempt, grace)),
      );
      if (ended !== false || !sshCheck) return;
      // Out of time for this run: the rest wait for the next one.
      if (run.budget.aborted) return;
      await completionCheck(run, job);
      return;
    }
    default:
      return;
  }
}

/** What is wrong with a live attempt's instance as Vast listed it, if anything. */
function problemOf(run: ReaperRun, attempt: AttemptRecord): { action: ReaperAction; reason: string } | null {
  // Being ended by us (or ended): whatever Vast says of it now is our own doing.
  if (attempt.instanceId === null || attempt.endedAt !== null || attempt.endRequestedAt !== null) return null;
  const instance = run.instances.get(attempt.instanceId);
  if (!instance || instance.state === "destroyed") {
    const rentedAt = attempt.rentedAt ?? attempt.startedAt;
    if (rentedAt > run.listedAt - LIST_SETTLE_MS) return null;
    return { action: "vanished_ended", reason: `Vast no longer lists instance ${attempt.instanceId}` };
  }
  if (UNWANTED_STATES.has(instance.state))
    return { action: "unwanted_state_ended", reason: unwantedReason(instance) };
  return null;
}

function unwantedReason(instance: VastInstance): string {
  const message = instance.statusMessage ? ` (${instance.statusMessage})` : "";
  if (instance.state === "stopped") {
    return `the instance was stopped${message}; a stopped instance still bills for its disk and may not come back`;
  }
  return `the instance went '${instance.state}'${message}`;
}

/** Ends the attempt when its instance is gone or unusable; true when it did (or is being ended). */
async function endIfBroken(
  run: ReaperRun,
  job: JobRecord,
  attempt: AttemptRecord,
  after: "retry" | "fail",
): Promise<boolean> {
  if (attempt.endRequestedAt !== null && attempt.endedAt === null) {
    // A step began ending it. Give that step time to finish; after that it crashed: finish it
    // the way it meant to.
    if (run.now - attempt.endRequestedAt > run.settings.stuckAfterMs)
      await resumeEnding(run.deps, job, attempt);
    return true;
  }
  let problem = problemOf(run, attempt);
  if (problem?.action === "vanished_ended" && attempt.instanceId !== null) {
    // Not in a list fetched a moment ago: ask once before deciding (one call, and only here) — an
    // instance adopted by label after the list was fetched is alive and well.
    const seen = await run.deps.vast.getInstanceStatus(attempt.instanceId);
    if (seen.state !== "destroyed") {
      problem = UNWANTED_STATES.has(seen.state)
        ? { action: "unwanted_state_ended", reason: unwantedReason(seen) }
        : null;
    }
  }
  if (!problem) return false;
  await end(
    run,
    job,
    attempt,
    problem.action,
    { outcome: "failed", reason: problem.reason, hostFailure: true },
    after,
  );
  return true;
}

async function endIfOverLimit(
  run: ReaperRun,
  job: JobRecord,
  attempt: AttemptRecord,
  graceMs = 0,
): Promise<boolean> {
  const limit = runningLimitExceeded(job, attempt, run.now, graceMs);
  if (!limit) return false;
  await end(run, job, attempt, "limit_ended", { outcome: "failed", reason: `Stopped: ${limit}.` }, "fail");
  return true;
}

async function end(
  run: ReaperRun,
  job: JobRecord,
  attempt: AttemptRecord,
  action: ReaperAction,
  ending: AttemptEnding,
  after: "retry" | "fail",
): Promise<void> {
  try {
    await endAttempt(
      run.deps,
      job,
      attempt,
      ending,
      after === "retry"
        ? { next: "retry" }
        : { next: "finish", event: { type: "fail", reason: ending.reason } },
    );
  } catch (error) {
    // The completion check claimed the ending for the stored LoRA a moment ago: it finishes it.
    if (!(error instanceof AttemptEndingTakenError)) throw error;
    run.deps.logger.info("the attempt is already ending otherwise", { jobId: job.jobId, action });
    return;
  }
  count(run, action);
}

async function requeue(
  run: ReaperRun,
  job: JobRecord,
  action: ReaperAction,
  message: Parameters<ReaperRun["deps"]["queue"]["enqueue"]>[0],
): Promise<void> {
  await run.deps.queue.enqueue(message);
  run.deps.logger.info("reaper re-sent a lost step", {
    jobId: job.jobId,
    state: job.state,
    step: message.type,
  });
  count(run, action);
}

async function leaseHeld(run: ReaperRun, job: JobRecord, name: string): Promise<boolean> {
  const lease = await run.deps.store.getLease(job.jobId, name);
  return lease !== null && lease.leaseUntil > run.deps.clock.now();
}

/** Runs `fn` holding the step's lease; skips it (undefined, until the next run) when the step holds it. */
async function withLease<T>(
  run: ReaperRun,
  job: JobRecord,
  name: string,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  const owner = `reaper:${randomUUID()}`;
  if (!(await run.deps.store.acquireLease(job.jobId, name, owner, run.settings.leaseMs))) return undefined;
  try {
    return await fn();
  } finally {
    await run.deps.store.releaseLease(job.jobId, name, owner);
  }
}

async function completionCheck(run: ReaperRun, job: JobRecord): Promise<void> {
  const result = await checkJobTraining(run.deps, job.jobId, { signal: run.budget });
  count(run, "training_checked");
  if (result.action === "succeeded") count(run, "training_succeeded");
  if (result.action === "failed") count(run, "training_failed");
  if (result.action === "running" && job.attempt > 0) {
    const delay = await scheduleCompletionFollowUp(
      run.deps,
      { jobId: job.jobId, attempt: job.attempt },
      result,
    );
    if (delay !== null) count(run, "follow_up_scheduled");
  }
}
