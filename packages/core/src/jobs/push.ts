/**
 * The push step (push queue): put the job's dataset on its rented instance, launch training,
 * and move the job `pushing → training`.
 *
 * - Stale messages (another attempt, or the job no longer `pushing`) are dropped quietly.
 * - A lease on the job (`push`) makes concurrent or redelivered messages harmless. When another
 *   handler holds it and the job is still `pushing`, this delivery throws `PushInProgressError`
 *   so SQS offers the message again after its visibility timeout — by then the holder has
 *   finished (the message is then stale) or died (its lease expired, this one takes over).
 * - The SSH session is pinned to the host key recorded for the attempt. A different key means
 *   the machine is not the one we checked: we never continue; the instance is destroyed, the host
 *   remembered, and provisioning tries another machine (or the job fails if none is left).
 * - `pushAndLaunch` is idempotent on the instance (no re-send of a verified dataset, one launch).
 * - A bad dataset (unsafe names, no images, too many missing captions, a source we may not read)
 *   fails the job at once and destroys the instance. Transport errors throw for an SQS retry;
 *   on the queue's last delivery they fail the job instead, so no message reaches the DLQ while
 *   a GPU is billing.
 */
import { randomUUID } from "node:crypto";
import { UnsafeDatasetEntryError } from "../dataset";
import { errorText } from "../observability";
import { type PushMessage, PushMessageSchema } from "../queue";
import { SshChannelError, SshConnectError, SshHostKeyMismatchError, type SshSession } from "../ssh";
import { type AttemptRecord, type JobRecord, VersionConflictError } from "../store";
import { pushAndLaunch } from "../training";
import { applyEvent } from "./lifecycle";
import { MalformedMessageError } from "./provision-queue";
import { runningLimitExceeded } from "./push-billing";
import {
  checkedDatasetReader,
  DatasetRejectedError,
  isListingSource,
  precheckDataset,
} from "./push-dataset-check";
import { type PushDeps, type PushSettings, pushSettingsOf, sshTargetOf } from "./push-deps";
import { endFailedAttempt } from "./push-teardown";

/** Another handler is pushing this job right now; retry the message later. */
export class PushInProgressError extends Error {
  override readonly name = "PushInProgressError";
}

export interface PushContext {
  /** SQS `ApproximateReceiveCount` of this delivery (1 = first). */
  receiveCount?: number;
}

export type PushOutcome =
  | { action: "ignored"; reason: string }
  | { action: "training"; pushed: boolean; pid: number | null; manifestSha256: string | null }
  | { action: "failed"; reason: string }
  | { action: "retrying_elsewhere"; reason: string };

export function parsePushQueueMessage(body: string): PushMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new MalformedMessageError("push queue message is not JSON");
  }
  const parsed = PushMessageSchema.safeParse(json);
  if (!parsed.success) throw new MalformedMessageError(`push queue message: ${parsed.error.message}`);
  return parsed.data;
}

export const PUSH_LEASE = "push";

export async function handlePushMessage(
  deps: PushDeps,
  message: { jobId: string; attempt: number },
  context: PushContext = {},
): Promise<PushOutcome> {
  const settings = pushSettingsOf(deps);
  const { jobId, attempt } = message;
  const job = await deps.store.getJob(jobId);
  const stale = staleReason(job, attempt);
  if (stale) {
    deps.logger.info("push message ignored", { jobId, attempt, reason: stale });
    return { action: "ignored", reason: stale };
  }
  const owner = `push:${randomUUID()}`;
  if (!(await deps.store.acquireLease(jobId, PUSH_LEASE, owner, settings.leaseMs))) {
    const now = staleReason(await deps.store.getJob(jobId), attempt);
    if (now) return { action: "ignored", reason: now };
    throw new PushInProgressError(`job ${jobId} attempt ${attempt} is being pushed by another handler`);
  }
  try {
    // Re-read under the lease: the holder before us may have finished the job's push.
    const current = await deps.store.getJob(jobId);
    const staleNow = staleReason(current, attempt);
    if (staleNow || !current) return { action: "ignored", reason: staleNow ?? "job not found" };
    return await pushUnderLease(deps, settings, current, context);
  } finally {
    await deps.store.releaseLease(jobId, PUSH_LEASE, owner);
  }
}

function staleReason(job: JobRecord | null, attempt: number): string | null {
  if (!job) return "job not found";
  if (job.attempt !== attempt) return `job is at attempt ${job.attempt}, message is for attempt ${attempt}`;
  if (job.state === "training") return "training already started";
  if (job.state !== "pushing") return `job is ${job.state}`;
  return null;
}

async function pushUnderLease(
  deps: PushDeps,
  settings: PushSettings,
  job: JobRecord,
  context: PushContext,
): Promise<PushOutcome> {
  const { jobId } = job;
  const record = await deps.store.getAttempt(jobId, job.attempt);
  if (!record || record.instanceId === null || !record.sshHost || record.sshPort === null) {
    throw new Error(`attempt ${job.attempt} of job ${jobId} has no reachable instance recorded`);
  }
  const fail = async (reason: string, diagnostics?: Record<string, unknown>): Promise<PushOutcome> => {
    const ended = await endFailedAttempt(deps, job, record, { reason, diagnostics });
    return { action: "failed", reason: ended.job.reason ?? reason };
  };
  if (record.outcome === "failed" && record.endedAt !== null) {
    // An earlier delivery destroyed the instance and crashed before failing the job: finish that.
    return await fail(record.failureReason ?? "the attempt failed while pushing");
  }

  const limit = runningLimitExceeded(job, record, deps.clock.now());
  if (limit) return await fail(`Stopped before training: ${limit}.`);

  const policy = {
    minImages: settings.minImages,
    maxMissingCaptionRatio: settings.maxMissingCaptionRatio,
  };
  let reader: ReturnType<PushDeps["datasets"]>;
  try {
    // Throws only for a source this deployment may not read (e.g. a local folder in the cloud).
    reader = deps.datasets(job.request.dataset);
  } catch (error) {
    return await fail(`The dataset was refused: ${errorText(error)}`);
  }
  if (isListingSource(job.request.dataset)) {
    try {
      await precheckDataset(reader, policy);
    } catch (error) {
      if (isBadDataset(error)) return await fail(`The dataset was refused: ${errorText(error)}`);
      return await retryOrFail(deps, settings, job, record, context, error);
    }
  }

  let session: SshSession;
  try {
    session = await deps.ssh(sshTargetOf(record));
  } catch (error) {
    if (error instanceof SshHostKeyMismatchError) {
      const ended = await endFailedAttempt(deps, job, record, {
        reason: `the instance's SSH host key changed since it was checked (${error.actual} instead of ${error.expected}); it was destroyed`,
        hostFailure: true,
        retryElsewhere: true,
      });
      return ended.retried
        ? { action: "retrying_elsewhere", reason: ended.job.reason ?? "host key changed" }
        : { action: "failed", reason: ended.job.reason ?? "host key changed" };
    }
    return await retryOrFail(deps, settings, job, record, context, error);
  }

  let failure: unknown;
  try {
    if (record.hostKeyFingerprint === null) {
      // Readiness pins the key; this covers an attempt that skipped it (trust on first use).
      const pinned = await deps.store.pinHostKey(jobId, record.attempt, session.hostKeyFingerprint);
      if (pinned !== session.hostKeyFingerprint)
        throw new Error("the SSH host key changed since first contact");
    }
    let lastLog = Number.NEGATIVE_INFINITY;
    const result = await pushAndLaunch(session, {
      jobId,
      workspaceRoot: settings.workspaceRoot,
      reader: checkedDatasetReader(reader, policy),
      request: job.request.training,
      compression: settings.compression,
      python: settings.python,
      heartbeatIntervalSeconds: settings.heartbeatIntervalSeconds,
      clock: deps.clock,
      logger: deps.logger,
      onProgress: (progress) => {
        const now = deps.clock.now();
        if (now - lastLog < settings.progressLogIntervalMs) return;
        lastLog = now;
        deps.logger.info("dataset push progress", {
          jobId,
          files: progress.files,
          bytes: progress.bytes,
          bytesPerSecond: Math.round(progress.bytesPerSecond),
        });
      },
    });
    if (result.push) {
      const { files, images, captions, skipped, bytes, durationMs } = result.push;
      await deps.store.appendTimeline(jobId, {
        at: deps.clock.now(),
        version: job.version,
        kind: "note",
        reason: `dataset pushed: ${files} files (${images} images, ${captions} captions), ${bytes} bytes`,
        details: {
          kind: "dataset_pushed",
          attempt: record.attempt,
          files,
          images,
          captions,
          skipped,
          bytes,
          durationMs,
          bytesPerSecond: durationMs > 0 ? Math.round((bytes * 1000) / durationMs) : null,
          manifestSha256: result.manifestSha256,
        },
      });
    }
    try {
      await applyEvent(
        deps,
        job,
        {
          type: "training_started",
          reason: `training launched on instance ${record.instanceId} (pid ${result.launch.pid ?? "?"})`,
        },
        {
          details: {
            attempt: record.attempt,
            instanceId: record.instanceId,
            manifestSha256: result.manifestSha256,
            pushed: result.pushed,
            pid: result.launch.pid,
            launchedNow: result.launch.started,
          },
        },
      );
    } catch (error) {
      if (!(error instanceof VersionConflictError)) throw error;
      // A concurrent writer won: fine if it also recorded `training`; anything else (a cancel)
      // owns the instance's fate now.
      const now = await deps.store.getJob(jobId);
      deps.logger.info("job moved on during the push", { jobId, state: now?.state });
      if (now?.state !== "training" || now.attempt !== record.attempt) {
        return { action: "ignored", reason: `job moved on to ${now?.state ?? "nothing"} during the push` };
      }
    }
    return {
      action: "training",
      pushed: result.pushed,
      pid: result.launch.pid,
      manifestSha256: result.manifestSha256,
    };
  } catch (error) {
    failure = error;
  } finally {
    await session.close().catch(() => {});
  }
  // Handled after the session is closed: failing may destroy the instance under it.
  if (isBadDataset(failure)) return await fail(`The dataset was refused: ${errorText(failure)}`);
  return await retryOrFail(deps, settings, job, record, context, failure);
}

function isBadDataset(error: unknown): boolean {
  return error instanceof UnsafeDatasetEntryError || error instanceof DatasetRejectedError;
}

/** Throws for an SQS retry, unless this was the last delivery: then the job fails cleanly. */
async function retryOrFail(
  deps: PushDeps,
  settings: PushSettings,
  job: JobRecord,
  record: AttemptRecord,
  context: PushContext,
  error: unknown,
): Promise<PushOutcome> {
  const deliveries = context.receiveCount ?? 1;
  deps.logger.warn("push failed", {
    jobId: job.jobId,
    attempt: record.attempt,
    delivery: deliveries,
    error: errorText(error),
  });
  if (deliveries < settings.maxDeliveries) throw error;
  const ended = await endFailedAttempt(deps, job, record, {
    reason: `The dataset could not be pushed to the instance after ${deliveries} tries: ${errorText(error)}`,
    // Only a machine that would not talk to us counts against the host; a failing source does not.
    hostFailure: error instanceof SshConnectError || error instanceof SshChannelError,
  });
  return { action: "failed", reason: ended.job.reason ?? errorText(error) };
}
