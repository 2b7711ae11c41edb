/**
 * Letting go of a rented instance: destroy it, record that Vast accepted the destroy, and look
 * once whether it is really gone. A destroy Vast accepted but still lists stays on the store's
 * list of unverified destroys; the reaper destroys it again on every run until Vast no longer
 * lists it, so a destroy that Vast "forgot" cannot keep billing.
 */
import { errorText } from "../../observability";
import type { AttemptRecord } from "../../store";
import type { JobDeps } from "../deps";

/** Destroys the attempt's instance unless its destroy is already recorded; returns the fresh record. */
export async function releaseInstance(deps: JobDeps, record: AttemptRecord): Promise<AttemptRecord> {
  if (record.instanceId === null || record.destroyedAt !== null) return record;
  // Throws when Vast refuses or cannot be reached: the attempt then stays open and the step is
  // retried (or the reaper finds the job stuck), never marked ended with its GPU still billing.
  const { jobId, attempt } = record;
  // When each try of the destroy left, on the job's clock; written before it leaves.
  const sentAt: number[] = [];
  const answer = await deps.vast.terminateInstance(record.instanceId, {
    beforeSend: async () => {
      const at = deps.clock.now();
      await deps.store.markDestroySent(jobId, attempt, at);
      sentAt.push(at);
    },
  });
  const at = billingEnd(record, answer?.alreadyGone === true, sentAt, deps.clock.now());
  const released = await deps.store.markDestroyed(jobId, attempt, at);
  await verifyDestroyed(deps, released);
  return released;
}

/**
 * When the instance stopped billing, as closely as we can tell. Vast acts on a destroy between the
 * request leaving and its answer arriving; the moment it left is the estimate (the answer can be
 * seconds late on a busy function, and the wait for the rate limiter comes before it leaves).
 *
 * Already gone: most likely our own earlier destroy. First choice, the request of an earlier step
 * that never recorded its answer (a crash; its time was written before it left): Vast had it
 * before any try of this call, and a try of this call that failed first (a 5xx, a timeout) must not
 * move the end to it — found by the chaos run, a retry 34 s after the crash priced to its own first
 * try. Else this call's earlier try; without either, when the ending began. Never now: recovering
 * from the crash is GPU time Vast never billed.
 */
function billingEnd(record: AttemptRecord, alreadyGone: boolean, sentAt: number[], now: number): number {
  // A port that does not call beforeSend (a test double) leaves the answer's arrival as the estimate.
  if (!alreadyGone) return Math.min(sentAt.at(-1) ?? now, now);
  const earlier = record.destroySentAt ?? (sentAt.length >= 2 ? sentAt.at(-2) : record.endRequestedAt);
  return Math.min(earlier ?? now, now);
}

/** One look: if Vast no longer has the instance, the destroy is verified now; else the reaper will. */
export async function verifyDestroyed(deps: JobDeps, record: AttemptRecord): Promise<boolean> {
  if (record.instanceId === null) return true;
  try {
    const instance = await deps.vast.getInstanceStatus(record.instanceId);
    if (instance.state !== "destroyed") {
      deps.logger.warn("instance still listed after its destroy", {
        jobId: record.jobId,
        attempt: record.attempt,
        instanceId: record.instanceId,
        state: instance.state,
      });
      return false;
    }
    await deps.store.markDestroyVerified(record.jobId, record.attempt, deps.clock.now());
    return true;
  } catch (error) {
    deps.logger.info("destroy not verified yet", { instanceId: record.instanceId, error: errorText(error) });
    return false;
  }
}
