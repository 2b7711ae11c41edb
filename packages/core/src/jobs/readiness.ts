/**
 * The readiness step: is the rented instance running, reachable and really ours over SSH?
 * Ready → `pushing` and a `push` message. Still starting → check again later (SQS delay with
 * backoff). Fatal state or boot timeout → keep the diagnostics, destroy, remember the host,
 * and either start the next attempt or fail the job with a reason a person understands.
 *
 * Each check number is claimed once per attempt (by SQS message id), so a duplicated message
 * neither doubles the chain of checks nor repeats the work; a redelivery of the same message
 * may finish what a crashed delivery began.
 */

import { errorText } from "../observability";
import type { ReadinessMessage } from "../queue";
import type { AttemptRecord, JobRecord } from "../store";
import type { InstanceState, VastInstance } from "../vast/model";
import { chargeAttempt } from "./attempt-charge";
import { applyEvent } from "./lifecycle";
import { limitExceeded } from "./limits";
import { giveUpReason } from "./provision";
import { type ProvisionDeps, redactFor, settingsOf } from "./provision-deps";
import { isTerminal } from "./state-machine";

/** States an instance being booted for us must never be in. `stopped` is never wanted here. */
const FATAL_STATES: ReadonlySet<InstanceState> = new Set([
  "exited",
  "failed",
  "offline",
  "unknown",
  "stopped",
  "destroyed",
]);

/** How many times a check waits for the provisioning pass to finish moving the job to `booting`. */
const MAX_WAITS_FOR_BOOTING = 20;

export interface ReadinessContext {
  /** The SQS message id: a redelivery of the same message may redo its own claimed check. */
  messageId: string;
}

export async function checkReadiness(
  deps: ProvisionDeps,
  message: ReadinessMessage,
  context: ReadinessContext,
): Promise<void> {
  const settings = settingsOf(deps);
  const { jobId, attempt } = message;
  const check = message.check ?? 0;
  const job = await deps.store.getJob(jobId);
  if (!job || job.attempt !== attempt) return;
  if (isTerminal(job.state)) {
    await releaseInstanceOfEndedJob(deps, job, attempt);
    return;
  }

  if (job.state === "provisioning") {
    // Either the provisioning pass has not yet moved the job to booting, or this attempt failed
    // and the next provisioning message was lost in a crash.
    const record = await deps.store.getAttempt(jobId, attempt);
    if (record?.outcome === "failed") {
      await deps.queue.enqueue({ type: "provision", jobId });
    } else if (check < MAX_WAITS_FOR_BOOTING) {
      await deps.queue.enqueue(
        { type: "readiness", jobId, attempt, check: check + 1 },
        { delaySeconds: delayFor(settings.readinessBackoffSeconds, 0) },
      );
    }
    return;
  }
  if (job.state !== "booting" && job.state !== "pushing") return;
  const claimed = await deps.store.acquireLease(
    jobId,
    `readiness-${attempt}-${check}`,
    context.messageId,
    3_600_000,
  );
  if (!claimed) return;
  if (job.state === "pushing") {
    // Only the delivery that claimed this check gets here: it crashed after the transition and
    // before the push message went out.
    await deps.queue.enqueue({ type: "push", jobId, attempt });
    return;
  }

  const record = await deps.store.getAttempt(jobId, attempt);
  if (!record || record.instanceId === null) return;
  if (record.endedAt !== null) {
    // A delivery destroyed and charged the attempt, then crashed before moving the job on.
    await moveOn(deps, job, record, record.failureReason ?? "the attempt ended");
    return;
  }
  const instance = await deps.vast.getInstanceStatus(record.instanceId);
  let probeError: string | null = null;

  if (instance.state === "running" && instance.sshHost && instance.sshPort) {
    let fingerprint: string | null = null;
    try {
      const { hostKeyFingerprint } = await deps.probe({
        host: instance.sshHost,
        port: instance.sshPort,
        expectedHostKey: record.hostKeyFingerprint ?? undefined,
      });
      fingerprint = hostKeyFingerprint;
    } catch (error) {
      if (isHostKeyMismatch(error)) {
        await abandonAttempt(deps, job, record, instance, "the SSH host key changed since first contact");
        return;
      }
      probeError = errorText(error);
      deps.logger.info("ssh probe failed", { jobId, attempt, error: probeError });
    }
    if (fingerprint !== null) {
      const pinned = await deps.store.pinHostKey(jobId, attempt, fingerprint);
      if (pinned !== fingerprint) {
        await abandonAttempt(deps, job, record, instance, "the SSH host key changed since first contact");
        return;
      }
      await deps.store.updateAttempt(jobId, attempt, {
        outcome: "ready",
        sshHost: instance.sshHost,
        sshPort: instance.sshPort,
      });
      await applyEvent(
        deps,
        job,
        {
          type: "instance_ready",
          reason: `instance ${record.instanceId} is running and answers SSH at ${instance.sshHost}:${instance.sshPort}`,
        },
        { details: { attempt, instanceId: record.instanceId, hostKeyFingerprint: fingerprint } },
      );
      await deps.queue.enqueue({ type: "push", jobId, attempt });
      return;
    }
  }

  const bootTimeoutMs = job.request.bootTimeoutMinutes * 60_000;
  const sinceRented = deps.clock.now() - (record.rentedAt ?? record.startedAt);
  if (FATAL_STATES.has(instance.state)) {
    await abandonAttempt(deps, job, record, instance, fatalReason(instance));
    return;
  }
  if (sinceRented >= bootTimeoutMs) {
    const last = `last state '${instance.state}'${instance.statusMessage ? `: ${instance.statusMessage}` : ""}`;
    const ssh = probeError ? `; SSH: ${probeError}` : "";
    await abandonAttempt(
      deps,
      job,
      record,
      instance,
      `did not become ready within ${job.request.bootTimeoutMinutes} min (${last}${ssh})`,
    );
    return;
  }
  const nearReady = instance.state === "loading" || instance.state === "running";
  await deps.queue.enqueue(
    { type: "readiness", jobId, attempt, check: check + 1 },
    {
      delaySeconds: nearReady
        ? settings.readinessNearReadySeconds
        : delayFor(settings.readinessBackoffSeconds, check + 1),
    },
  );
}

/** The SSH transport refuses a host key that differs from the pinned one: never retried. */
function isHostKeyMismatch(error: unknown): boolean {
  return error instanceof Error && error.name === "SshHostKeyMismatchError";
}

function delayFor(backoff: readonly number[], index: number): number {
  return backoff[Math.min(index, backoff.length - 1)] ?? 30;
}

function fatalReason(instance: VastInstance): string {
  const message = instance.statusMessage ? `: ${instance.statusMessage}` : "";
  switch (instance.state) {
    case "destroyed":
      return "the instance disappeared while booting";
    case "stopped":
      return `the instance was stopped by its host while booting${message}`;
    case "failed":
      return `the instance failed to start${message}`;
    default:
      return `the instance went '${instance.state}' while booting${message}`;
  }
}

/** Keeps diagnostics, destroys the instance, records the host failure, and moves the job on. */
async function abandonAttempt(
  deps: ProvisionDeps,
  job: JobRecord,
  record: AttemptRecord,
  instance: VastInstance,
  reason: string,
): Promise<void> {
  const settings = settingsOf(deps);
  const instanceId = record.instanceId as number;
  const redact = redactFor(deps);
  const now = deps.clock.now();
  let logTail: string;
  try {
    const logs = await deps.vast.getInstanceLogs(instanceId, settings.logTailLines);
    logTail = logs.split("\n").slice(-settings.logTailLines).join("\n").slice(-4000);
  } catch (error) {
    logTail = `(logs unavailable: ${errorText(error)})`;
  }
  await deps.store.appendTimeline(job.jobId, {
    at: now,
    version: job.version,
    kind: "diagnostics",
    reason: redact(`attempt ${record.attempt}: ${reason}`),
    details: {
      attempt: record.attempt,
      instanceId,
      machineId: record.machineId,
      state: instance.state,
      rawStatus: instance.rawStatus,
      statusMessage: instance.statusMessage ? redact(instance.statusMessage) : null,
      logTail: redact(logTail),
    },
  });
  await deps.vast.terminateInstance(instanceId);
  const charged = await chargeAttempt(deps, job, record, {
    outcome: "failed",
    endedAt: now,
    failureReason: redact(reason),
  });
  if (record.machineId !== null) {
    await deps.store.recordHostFailure({
      machineId: record.machineId,
      jobId: job.jobId,
      attempt: record.attempt,
      at: now,
      reason: redact(reason),
    });
  }
  await moveOn(deps, charged.job, record, reason);
}

/** After an abandoned (destroyed and charged) attempt: the next attempt, or the end of the job. */
async function moveOn(deps: ProvisionDeps, job: JobRecord, record: AttemptRecord, reason: string) {
  // A cancel that won the race ended the job; the attempt's cost is on its final bill.
  if (isTerminal(job.state)) return;
  const redact = redactFor(deps);
  const attempts = await deps.store.listAttempts(job.jobId);
  const rentals = attempts.filter((a) => a.instanceId !== null).length;
  const limit = limitExceeded(job, deps.clock.now());
  if (rentals >= job.request.maxAttempts || limit) {
    const why = limit
      ? `Stopped after attempt ${record.attempt} (${redact(reason)}): ${limit}.`
      : giveUpReason(job, attempts);
    await applyEvent(deps, job, { type: "fail", reason: why });
    return;
  }
  await applyEvent(
    deps,
    job,
    { type: "attempt_failed", reason: redact(`attempt ${record.attempt} abandoned: ${reason}`) },
    { details: { attempt: record.attempt, instanceId: record.instanceId } },
  );
  await deps.queue.enqueue({ type: "provision", jobId: job.jobId });
}

/**
 * The job ended (cancelled, or failed elsewhere) while its instance was booting: nothing will
 * use the instance, so it is destroyed now rather than left for the reaper.
 */
async function releaseInstanceOfEndedJob(
  deps: ProvisionDeps,
  job: JobRecord,
  attempt: number,
): Promise<void> {
  const record = await deps.store.getAttempt(job.jobId, attempt);
  if (!record || record.instanceId === null || record.endedAt !== null) return;
  await deps.vast.terminateInstance(record.instanceId);
  // The job has ended, but the instance billed until now: its cost joins the job's final cost.
  await chargeAttempt(deps, job, record, {
    outcome: "failed",
    endedAt: deps.clock.now(),
    failureReason: `the job ended (${job.state}) while the instance was booting`,
  });
}
