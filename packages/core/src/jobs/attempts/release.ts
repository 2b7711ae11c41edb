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
  const answer = await deps.vast.terminateInstance(record.instanceId);
  const now = deps.clock.now();
  // Already gone: most likely our own destroy, sent after the ending began and accepted just before a
  // crash kept us from recording it. Priced to when the ending began (at most one destroy call early),
  // not to now: the time it took to recover from the crash is GPU time Vast never billed.
  const at =
    answer?.alreadyGone && record.endRequestedAt !== null ? Math.min(record.endRequestedAt, now) : now;
  const released = await deps.store.markDestroyed(record.jobId, record.attempt, at);
  await verifyDestroyed(deps, released);
  return released;
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
