/**
 * The push step (push queue): put the job's dataset on its rented instance, launch training,
 * and move the job `pushing → training`.
 *
 * - Stale messages (another attempt, or the job no longer `pushing`) are dropped quietly.
 * - A lease on the job (`push`) makes concurrent or redelivered messages harmless. When another
 *   handler holds it and the job is still `pushing`, this delivery throws `PushInProgressError`
 *   so SQS offers the message again later — by then the holder has finished (the message is
 *   then stale) or died (its lease expired, this one takes over).
 * - The push runs under the delivery's deadline (Lambda's remaining time minus a margin for
 *   teardown): a push that cannot finish in time is aborted cleanly (the remote side removes its
 *   partial folder), and on the queue's last delivery the attempt is ended — instance destroyed —
 *   before the handler returns, so no message reaches the dead-letter queue with a GPU billing.
 * - The SSH session is pinned to the host key recorded for the attempt. A different key means
 *   the machine is not the one we checked: the attempt ends (host remembered) and provisioning
 *   tries another machine, or the job fails if none is left.
 * - `pushAndLaunch` is idempotent on the instance (no re-send of a verified dataset, one launch).
 * - Permanent errors (a bad dataset, a source answering 403/404, a full disk) end the attempt at
 *   once; only transport errors are retried, after a short delay rather than the queue's whole
 *   visibility timeout.
 */
import { randomUUID } from "node:crypto";
import {
  checkedDatasetReader,
  DatasetPushError,
  DatasetRejectedError,
  DatasetSourceError,
  UnsafeDatasetEntryError,
} from "../dataset";
import { errorText } from "../observability";
import {
  type Delivery,
  directDelivery,
  type PushMessage,
  PushMessageSchema,
  retryDelaySeconds,
} from "../queue";
import { SshChannelError, SshConnectError, SshHostKeyMismatchError, type SshSession } from "../ssh";
import { AttemptClosedError, type AttemptRecord, type JobRecord, VersionConflictError } from "../store";
import { pushAndLaunch, templateFor, UnknownTemplateError } from "../training";
import { type AttemptEnding, endAttempt, resumeEnding } from "./attempts";
import { pushPolicyFor } from "./dataset-rules";
import { type PushDeps, settingsOf } from "./deps";
import { applyEvent } from "./lifecycle";
import { runningLimitExceeded } from "./limits";
import { parseQueueBody } from "./messages";

/** Another handler is pushing this job right now; retry the message later. */
export class PushInProgressError extends Error {
  override readonly name = "PushInProgressError";
}

export type PushOutcome =
  | { action: "ignored"; reason: string }
  | { action: "training"; pushed: boolean; pid: number | null; manifestSha256: string | null }
  | { action: "failed"; reason: string }
  | { action: "retrying_elsewhere"; reason: string };

export function parsePushQueueMessage(body: string): PushMessage {
  return parseQueueBody(PushMessageSchema, body, "push");
}

export const PUSH_LEASE = "push";

export async function handlePushMessage(
  deps: PushDeps,
  message: { jobId: string; attempt: number },
  delivery: Delivery = directDelivery(),
): Promise<PushOutcome> {
  const settings = settingsOf(deps).push;
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
    // The holder is working on it; on the last delivery there is nothing left for us to do.
    if (delivery.isLast) return { action: "ignored", reason: "another handler holds the push" };
    await delivery.retryIn(60);
    throw new PushInProgressError(`job ${jobId} attempt ${attempt} is being pushed by another handler`);
  }
  try {
    // Re-read under the lease: the holder before us may have finished the job's push.
    const current = await deps.store.getJob(jobId);
    const staleNow = staleReason(current, attempt);
    if (staleNow || !current) return { action: "ignored", reason: staleNow ?? "job not found" };
    return await pushUnderLease(deps, current, delivery);
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

async function pushUnderLease(deps: PushDeps, job: JobRecord, delivery: Delivery): Promise<PushOutcome> {
  const settings = settingsOf(deps);
  const { jobId } = job;
  const record = await deps.store.getAttempt(jobId, job.attempt);
  const fail = async (ending: AttemptEnding): Promise<PushOutcome> => {
    const ended = await endAttempt(deps, job, record as AttemptRecord, ending, {
      next: "finish",
      event: { type: "fail", reason: ending.reason },
    });
    return { action: "failed", reason: ended.job.reason ?? ending.reason };
  };
  if (!record) throw new Error(`attempt ${job.attempt} of job ${jobId} is not recorded`);
  if (record.endedAt !== null || record.endRequestedAt !== null) {
    // An earlier delivery (or a cancel) began ending the attempt and did not finish: finish that.
    const resumed = await resumeEnding(deps, job, record);
    if (resumed) return { action: "failed", reason: resumed.job.reason ?? "the attempt ended" };
    return await fail({
      outcome: "failed",
      reason: record.failureReason ?? "the attempt failed while pushing",
    });
  }
  if (record.instanceId === null || !record.sshHost || record.sshPort === null) {
    return await fail({ outcome: "failed", reason: "no reachable instance is recorded for the attempt" });
  }

  const limit = runningLimitExceeded(job, record, deps.clock.now());
  if (limit) return await fail({ outcome: "failed", reason: `Stopped before training: ${limit}.` });

  try {
    templateFor(job.request.training);
  } catch (error) {
    if (!(error instanceof UnknownTemplateError)) throw error;
    return await fail({ outcome: "failed", reason: `Stopped before training: ${error.message}.` });
  }

  let reader: ReturnType<PushDeps["datasets"]["reader"]>;
  try {
    // Throws only for a source this deployment may not read (e.g. a local folder in the cloud).
    reader = deps.datasets.reader(job.request.dataset);
  } catch (error) {
    return await fail({ outcome: "failed", reason: `The dataset was refused: ${errorText(error)}` });
  }

  let session: SshSession;
  try {
    session = await deps.ssh(
      { host: record.sshHost, port: record.sshPort, expectedHostKey: record.hostKeyFingerprint ?? undefined },
      { signal: delivery.signal },
    );
  } catch (error) {
    if (error instanceof SshHostKeyMismatchError) {
      const ended = await endAttempt(
        deps,
        job,
        record,
        {
          outcome: "failed",
          reason: `the instance's SSH host key changed since it was checked (${error.actual} instead of ${error.expected}); it was destroyed`,
          hostFailure: true,
        },
        { next: "retry" },
      );
      const reason = ended.job.reason ?? "host key changed";
      return ended.retried ? { action: "retrying_elsewhere", reason } : { action: "failed", reason };
    }
    return await retryOrEnd(deps, job, record, delivery, error);
  }

  let failure: unknown;
  let sentBytes = 0;
  try {
    if (record.hostKeyFingerprint === null) {
      // Readiness pins the key; this covers an attempt that skipped it (trust on first use).
      const pinned = await deps.store.pinHostKey(jobId, record.attempt, session.hostKeyFingerprint);
      if (pinned !== session.hostKeyFingerprint)
        throw new Error("the SSH host key changed since first contact");
    }
    let lastLog = Number.NEGATIVE_INFINITY;
    sentBytes = 0;
    const result = await pushAndLaunch(session, {
      jobId,
      workspaceRoot: settings.push.workspaceRoot,
      reader: checkedDatasetReader(reader, pushPolicyFor(job, settings.dataset)),
      announcedBytes: job.dataset?.bytes ?? undefined,
      request: job.request.training,
      compression: settings.push.compression,
      python: settings.push.python,
      toolkitDir: settings.push.toolkitDir,
      heartbeatIntervalSeconds: settings.push.heartbeatIntervalSeconds,
      clock: deps.clock,
      logger: deps.logger,
      signal: delivery.signal,
      onProgress: (progress) => {
        sentBytes = progress.bytes;
        const now = deps.clock.now();
        if (now - lastLog < settings.push.progressLogIntervalMs) return;
        lastLog = now;
        deps.logger.info("dataset push progress", {
          jobId,
          files: progress.files,
          bytes: progress.bytes,
          bytesPerSecond: Math.round(progress.bytesPerSecond),
        });
        // On the timeline too, so whoever watches the job sees the upload move (best effort).
        void deps.store
          .appendTimeline(jobId, {
            at: now,
            version: job.version,
            kind: "note",
            reason: `dataset push: ${progress.bytes} bytes so far`,
            details: {
              kind: "push_progress",
              attempt: record.attempt,
              files: progress.files,
              bytes: progress.bytes,
              totalBytes: job.dataset?.bytes ?? null,
              bytesPerSecond: Math.round(progress.bytesPerSecond),
            },
          })
          .catch(() => {});
      },
    });
    if (result.push) {
      const { files, images, captions, skipped, bytes, reused, durationMs } = result.push;
      sentBytes = 0;
      // Bandwidth into the instance is billed per byte (files it already had were not sent).
      await deps.store.updateAttempt(jobId, record.attempt, { bytesPushed: record.bytesPushed + bytes });
      const reusedText =
        reused.files > 0
          ? `; ${reused.files} files (${reused.bytes} bytes) already on the instance were not sent again`
          : "";
      await deps.store.appendTimeline(jobId, {
        at: deps.clock.now(),
        version: job.version,
        kind: "note",
        reason: `dataset pushed: ${files} files (${images} images, ${captions} captions), ${bytes} bytes sent${reusedText}`,
        details: {
          kind: "dataset_pushed",
          attempt: record.attempt,
          files,
          images,
          captions,
          skipped,
          bytes,
          reusedFiles: reused.files,
          reusedBytes: reused.bytes,
          durationMs,
          bytesPerSecond: durationMs > 0 ? Math.round((bytes * 1000) / durationMs) : null,
          manifestSha256: result.manifestSha256,
        },
      });
    }
    const started = await recordTrainingStarted(deps, job, record, result);
    if (started.state !== "training" || started.attempt !== record.attempt) {
      // A cancel (or the reaper) owns the instance's fate now.
      return { action: "ignored", reason: `job moved on to ${started.state} during the push` };
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
  if (failure instanceof AttemptClosedError) {
    return { action: "ignored", reason: "the attempt began ending during the push" };
  }
  if (sentBytes > 0) {
    // The bytes of a push that failed were received (and billed) all the same.
    await deps.store
      .updateAttempt(jobId, record.attempt, { bytesPushed: record.bytesPushed + sentBytes })
      .catch(() => {});
  }
  // Handled after the session is closed: ending the attempt destroys the instance under it.
  if (isPermanent(failure)) {
    return await fail({ outcome: "failed", reason: `The dataset was refused: ${errorText(failure)}` });
  }
  return await retryOrEnd(deps, job, record, delivery, failure);
}

/**
 * `pushing → training`; another writer getting in between (the reaper charging a stray, say) is
 * no reason to leave a launched run unrecorded: re-read and apply again while the job still waits
 * for it. Returns the job as it stands.
 */
async function recordTrainingStarted(
  deps: PushDeps,
  jobBefore: JobRecord,
  record: AttemptRecord,
  result: Awaited<ReturnType<typeof pushAndLaunch>>,
): Promise<JobRecord> {
  let job = jobBefore;
  for (let round = 1; ; round++) {
    if (job.state !== "pushing" || job.attempt !== record.attempt) return job;
    try {
      return await applyEvent(
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
      if (!(error instanceof VersionConflictError) || round >= 5) throw error;
      job = (await deps.store.getJob(job.jobId)) ?? job;
    }
  }
}

/** Failures no retry can fix: the dataset itself, its source refusing us, a disk too small. */
function isPermanent(error: unknown): boolean {
  return (
    error instanceof UnsafeDatasetEntryError ||
    error instanceof DatasetRejectedError ||
    (error instanceof DatasetSourceError && error.permanent) ||
    (error instanceof DatasetPushError && error.permanent)
  );
}

/** Asks for a short retry and throws, unless this was the last delivery: then the attempt ends. */
async function retryOrEnd(
  deps: PushDeps,
  job: JobRecord,
  record: AttemptRecord,
  delivery: Delivery,
  error: unknown,
): Promise<PushOutcome> {
  const outOfTime = delivery.signal.aborted;
  const why = outOfTime ? "the push did not finish before the function's deadline" : errorText(error);
  deps.logger.warn("push failed", {
    jobId: job.jobId,
    attempt: record.attempt,
    delivery: delivery.receiveCount,
    error: why,
  });
  if (!delivery.isLast) {
    await delivery.retryIn(retryDelaySeconds(delivery.receiveCount));
    throw error;
  }
  const reason = `The dataset could not be pushed to the instance after ${delivery.receiveCount} tries: ${why}`;
  const ended = await endAttempt(
    deps,
    job,
    record,
    {
      outcome: "failed",
      reason,
      // Only a machine that would not talk to us counts against the host; a failing source does not.
      hostFailure: error instanceof SshConnectError || error instanceof SshChannelError,
    },
    { next: "finish", event: { type: "fail", reason } },
  );
  return { action: "failed", reason: ended.job.reason ?? reason };
}
