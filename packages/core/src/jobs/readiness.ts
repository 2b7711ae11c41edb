/**
 * The readiness step: is the rented instance running, reachable and really ours over SSH, and can
 * the host run the job? Once the SSH probe passes (host key pinned), the pre-flight host check
 * runs in one more SSH round trip (GPUs, VRAM, nothing else on them, driver, disk, PyTorch with
 * CUDA, ai-toolkit). Ready → `pushing` and a `push` message. Still starting, or the check not
 * answering → check again later (SQS delay with backoff). Fatal state, boot timeout or a failed
 * pre-flight check → keep the diagnostics, end the attempt (destroy, charge, remember the host)
 * and start the next one or fail the job — through `endAttempt`.
 *
 * The pre-flight check only reads the host, and nothing is pushed before it passed: a redelivered
 * check runs it again on the same untouched host and reaches the same verdict.
 *
 * Checks are numbered; the store lets each attempt claim only ever-higher check numbers (a
 * redelivery of the same message may redo its own). A duplicated message therefore neither
 * doubles the chain nor repeats the work, and the time of the last claim tells the reaper whether
 * the chain is still alive.
 */
import { errorText } from "../observability";
import { describePreflightFailures, type PreflightOutcome } from "../preflight";
import type { ReadinessMessage } from "../queue";
import { SshHostKeyMismatchError } from "../ssh";
import { AttemptClosedError, type AttemptRecord, type JobRecord } from "../store";
import type { InstanceState, VastInstance } from "../vast/model";
import { type AttemptEnding, endAttempt, resumeEnding } from "./attempts";
import { type ProvisionDeps, settingsOf } from "./deps";
import { applyEvent } from "./lifecycle";
import { preflightRequirementsFor } from "./preflight";
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

const HOST_KEY_CHANGED = "the SSH host key changed since first contact";

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
  const settings = settingsOf(deps).provision;
  const { jobId, attempt } = message;
  const check = message.check ?? 0;
  const job = await deps.store.getJob(jobId);
  // A job that ended has ended its attempts (the store enforces it): nothing left to do.
  if (!job || job.attempt !== attempt || isTerminal(job.state)) return;

  if (job.state === "provisioning") {
    // Either the provisioning pass has not yet moved the job to booting, or this attempt failed
    // and the next provisioning message was lost in a crash.
    const record = await deps.store.getAttempt(jobId, attempt);
    if (record && record.endedAt !== null) {
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
  if (!(await deps.store.claimReadinessCheck(jobId, attempt, check, context.messageId, deps.clock.now())))
    return;
  if (job.state === "pushing") {
    // Only the delivery that claimed this check gets here: it crashed after the transition and
    // before the push message went out.
    await deps.queue.enqueue({ type: "push", jobId, attempt });
    return;
  }

  const record = await deps.store.getAttempt(jobId, attempt);
  if (!record || record.instanceId === null) return;
  if (record.endedAt !== null || record.endRequestedAt !== null) {
    // A delivery began ending the attempt and crashed before moving the job on: finish that.
    const resumed = await resumeEnding(deps, job, record);
    if (!resumed) {
      await abandon(deps, job, record, {
        outcome: "failed",
        reason: record.failureReason ?? "the attempt ended",
      });
    }
    return;
  }
  const instance = await deps.vast.getInstanceStatus(record.instanceId);
  try {
    await checkInstance(deps, job, { ...record, instanceId: record.instanceId }, instance, check);
  } catch (error) {
    // The attempt began ending under us (a cancel, the reaper): that ending decides.
    if (!(error instanceof AttemptClosedError)) throw error;
    deps.logger.info("readiness check: the attempt is ending", { jobId, attempt });
  }
}

/** What the instance's state and an SSH probe say about an attempt that is still open. */
async function checkInstance(
  deps: ProvisionDeps,
  job: JobRecord,
  record: AttemptRecord & { instanceId: number },
  instance: VastInstance,
  check: number,
): Promise<void> {
  const settings = settingsOf(deps).provision;
  const { jobId } = job;
  const { attempt } = record;
  if (instance.state === "running" && record.runningSince === null) {
    // The GPU bills from here: Vast's own start date when it gives one.
    await deps.store.updateAttempt(jobId, attempt, {
      runningSince: instance.startedAtMs ?? deps.clock.now(),
    });
  }
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
      if (error instanceof SshHostKeyMismatchError) {
        await abandonWithDiagnostics(deps, job, record, instance, HOST_KEY_CHANGED);
        return;
      }
      probeError = errorText(error);
      deps.logger.info("ssh probe failed", { jobId, attempt, error: probeError });
    }
    if (fingerprint !== null) {
      const pinned = await deps.store.pinHostKey(jobId, attempt, fingerprint);
      if (pinned !== fingerprint) {
        await abandonWithDiagnostics(deps, job, record, instance, HOST_KEY_CHANGED);
        return;
      }
      const target = { host: instance.sshHost, port: instance.sshPort, expectedHostKey: pinned };
      let preflight: PreflightOutcome | null = null;
      try {
        preflight = await deps.preflight(target, preflightRequirementsFor(job, record, settingsOf(deps)), {
          stepTimeoutSeconds: settings.preflightStepSeconds,
          signal: AbortSignal.timeout(settings.preflightTimeoutMs),
        });
      } catch (error) {
        if (error instanceof SshHostKeyMismatchError) {
          await abandonWithDiagnostics(deps, job, record, instance, HOST_KEY_CHANGED);
          return;
        }
        // Unreachable for a moment, or too slow: the next check looks again (until the boot timeout).
        probeError = `pre-flight check: ${errorText(error)}`;
        deps.logger.info("pre-flight check did not answer", { jobId, attempt, error: probeError });
      }
      if (preflight && !preflight.passed) {
        await abandonAfterPreflight(deps, job, record, instance, preflight);
        return;
      }
      if (preflight?.passed) {
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
            reason: `instance ${record.instanceId} is running, answers SSH at ${instance.sshHost}:${instance.sshPort} and passed the pre-flight check`,
          },
          {
            details: {
              attempt,
              instanceId: record.instanceId,
              hostKeyFingerprint: fingerprint,
              preflight: { passed: true, host: preflight.host },
            },
          },
        );
        await deps.queue.enqueue({ type: "push", jobId, attempt });
        return;
      }
    }
  }

  const bootTimeoutMs = job.request.bootTimeoutMinutes * 60_000;
  const sinceRented = deps.clock.now() - (record.rentedAt ?? record.startedAt);
  if (FATAL_STATES.has(instance.state)) {
    await abandonWithDiagnostics(deps, job, record, instance, fatalReason(instance));
    return;
  }
  if (sinceRented >= bootTimeoutMs) {
    const last = `last state '${instance.state}'${instance.statusMessage ? `: ${instance.statusMessage}` : ""}`;
    const ssh = probeError ? `; SSH: ${probeError}` : "";
    await abandonWithDiagnostics(
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

function delayFor(backoff: readonly number[], index: number): number {
  return backoff[Math.min(index, backoff.length - 1)] ?? 30;
}

export function fatalReason(instance: VastInstance): string {
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

/** The machine failed us: keep what Vast says about it, then end the attempt and move on. */
function abandonWithDiagnostics(
  deps: ProvisionDeps,
  job: JobRecord,
  record: AttemptRecord,
  instance: VastInstance,
  reason: string,
): Promise<unknown> {
  return abandon(deps, job, record, {
    outcome: "failed",
    reason,
    hostFailure: true,
    captureInstanceLogs: true,
    diagnostics: {
      state: instance.state,
      rawStatus: instance.rawStatus,
      statusMessage: instance.statusMessage,
    },
  });
}

/**
 * The host cannot run the job: every failed condition goes into the timeline (with what the host
 * has), the machine is remembered with the reason, the instance destroyed and the next offer tried.
 */
function abandonAfterPreflight(
  deps: ProvisionDeps,
  job: JobRecord,
  record: AttemptRecord,
  instance: VastInstance,
  outcome: Extract<PreflightOutcome, { passed: false }>,
): Promise<unknown> {
  deps.logger.info("pre-flight check failed", {
    jobId: job.jobId,
    attempt: record.attempt,
    machineId: record.machineId,
    conditions: outcome.failures.map((failure) => failure.condition),
  });
  return abandon(deps, job, record, {
    outcome: "failed",
    reason: describePreflightFailures(outcome.failures),
    hostFailure: true,
    diagnostics: {
      state: instance.state,
      rawStatus: instance.rawStatus,
      statusMessage: instance.statusMessage,
      preflight: { passed: false, failures: outcome.failures, host: outcome.host },
    },
  });
}

function abandon(deps: ProvisionDeps, job: JobRecord, record: AttemptRecord, ending: AttemptEnding) {
  return endAttempt(deps, job, record, ending, { next: "retry" });
}
