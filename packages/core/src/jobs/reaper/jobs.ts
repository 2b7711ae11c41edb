/**
 * The reaper's pass over live jobs (read from the state index, never a scan). For each, it
 * compares what the table believes with what Vast listed and finishes what a step left undone:
 * - an instance stopped, exited, offline or gone from Vast's list → attempt ended, job moved on
 *   (a stopped instance still pays for its disk, so it is destroyed rather than waited for);
 * - boot past its timeout, push past its timeout, budget or maximum runtime → attempt ended;
 * - a step whose message was lost (no lease held, no sign of life for `stuckAfterMs`) → its
 *   message is sent again;
 * - training → the completion check (progress, exit code, heartbeat; collect and destroy when done).
 * Work on a job is done under the lease its step uses, so the reaper never acts under a running step.
 */
import { randomUUID } from "node:crypto";
import type { AttemptRecord, JobRecord } from "../../store";
import type { InstanceState, VastInstance } from "../../vast";
import { type AttemptEnding, endAttempt } from "../attempts";
import { COMPLETION_LEASE, checkJobTraining } from "../completion";
import { runningLimitExceeded } from "../limits";
import { PROVISION_LEASE } from "../provision";
import { PUSH_LEASE } from "../push";
import type { JobState } from "../state-machine";
import type { ReaperAction } from "./actions";
import { count, forEachLimited, type ReaperRun } from "./context";

/** States of a live job's instance that mean it will not do the job's work. */
const UNWANTED_STATES: ReadonlySet<InstanceState> = new Set(["stopped", "exited", "failed", "offline"]);

/** An instance rented this recently may not be in a list fetched a moment before. */
const LIST_SETTLE_MS = 60_000;

const LIVE_STATES: readonly JobState[] = [
  "queued",
  "provisioning",
  "booting",
  "pushing",
  "training",
  "collecting",
];

/** Returns how many live jobs it saw. */
export async function reconcileJobs(run: ReaperRun): Promise<number> {
  const { store } = run.deps;
  const jobs: JobRecord[] = [];
  for (const state of LIVE_STATES) {
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
  let completionChecks = 0;
  await forEachLimited(
    run,
    jobs,
    run.settings.concurrency,
    async (job) => {
      const attempt = attempts.get(job.jobId) ?? null;
      if ((job.state === "training" || job.state === "collecting") && attempt && !problemOf(run, attempt)) {
        if (completionChecks >= run.settings.maxCompletionChecks) return;
        completionChecks++;
      }
      await reconcileJob(run, job, attempt);
    },
    (job) => ({ jobId: job.jobId, state: job.state }),
  );
  return jobs.length;
}

async function reconcileJob(run: ReaperRun, job: JobRecord, attempt: AttemptRecord | null): Promise<void> {
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
      // A destroyed attempt of a run (a check crashed after the destroy) is finished by the
      // completion check itself: it knows whether the artifact was stored first.
      if (problemOf(run, attempt)) {
        await withLease(run, job, COMPLETION_LEASE, () =>
          endIfBroken(run, job, attempt, job.state === "training" ? "retry" : "fail"),
        );
        return;
      }
      const result = await checkJobTraining(deps, job.jobId);
      count(run, "training_checked");
      if (result.action === "succeeded") count(run, "training_succeeded");
      if (result.action === "failed") count(run, "training_failed");
      return;
    }
    default:
      return;
  }
}

/** What is wrong with a live attempt's instance as Vast listed it, if anything. */
function problemOf(run: ReaperRun, attempt: AttemptRecord): { action: ReaperAction; reason: string } | null {
  // Destroyed by us (a step is ending the attempt, or crashed doing so): not Vast's doing.
  if (attempt.instanceId === null || attempt.endedAt !== null || attempt.destroyedAt !== null) return null;
  const instance = run.instances.get(attempt.instanceId);
  if (!instance) {
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

/** Ends the attempt when its instance is gone or unusable; true when it did. */
async function endIfBroken(
  run: ReaperRun,
  job: JobRecord,
  attempt: AttemptRecord,
  after: "retry" | "fail",
): Promise<boolean> {
  if (attempt.destroyedAt !== null && attempt.endedAt === null) {
    // A step destroyed it and crashed before ending the attempt (or is ending it right now:
    // then wait, it will be done in a moment).
    if (run.now - attempt.destroyedAt <= run.settings.stuckAfterMs) return true;
    await end(
      run,
      job,
      attempt,
      "vanished_ended",
      { outcome: "failed", reason: attempt.failureReason ?? "the instance was destroyed" },
      after,
    );
    return true;
  }
  const problem = problemOf(run, attempt);
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

async function endIfOverLimit(run: ReaperRun, job: JobRecord, attempt: AttemptRecord): Promise<boolean> {
  const limit = runningLimitExceeded(job, attempt, run.now);
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
  await endAttempt(
    run.deps,
    job,
    attempt,
    ending,
    after === "retry"
      ? { next: "retry" }
      : { next: "finish", event: { type: "fail", reason: ending.reason } },
  );
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

/** Runs `fn` holding the step's lease; skips (until the next run) when the step holds it. */
async function withLease(
  run: ReaperRun,
  job: JobRecord,
  name: string,
  fn: () => Promise<unknown>,
): Promise<void> {
  const owner = `reaper:${randomUUID()}`;
  if (!(await run.deps.store.acquireLease(job.jobId, name, owner, run.settings.leaseMs))) return;
  try {
    await fn();
  } finally {
    await run.deps.store.releaseLease(job.jobId, name, owner);
  }
}
