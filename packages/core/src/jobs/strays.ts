/**
 * Stray instances: rented for a job but held by none of its attempts — a create that completed
 * after its attempt gave up on it, or one that raced a cancel. Nothing will ever use one, so it
 * is destroyed on sight and what it billed is charged to its job, once (the store keys the charge
 * on the instance id).
 */
import { errorText } from "../observability";
import type { VastInstance } from "../vast";
import { announce } from "./announce";
import { attemptCost } from "./attempts";
import type { JobDeps } from "./deps";

export interface StrayInstance {
  jobId: string;
  /** The attempt whose label it carries. */
  attempt: number;
  instanceId: number;
  /** The earliest it can have been created (its attempt's create call): storage bills from then. */
  since: number;
  /** Vast's view, when we have one: `startedAtMs` says since when the GPU billed. */
  instance?: VastInstance;
  reason: string;
}

export async function destroyStray(deps: JobDeps, stray: StrayInstance): Promise<void> {
  // One look before it goes, when we have none: a create that returned late (the call that raced a
  // cancel) may have booted meanwhile, and its GPU billed from Vast's start date.
  const seen = stray.instance ?? (await lookAt(deps, stray.instanceId));
  // Priced, like an attempt's destroy, to when the request left (attempts/release.ts), not to when
  // its answer arrived.
  let sentAt: number | undefined;
  await deps.vast.terminateInstance(stray.instanceId, {
    beforeSend: async () => {
      sentAt = deps.clock.now();
    },
  });
  const answeredAt = deps.clock.now();
  const destroyedAt = Math.min(sentAt ?? answeredAt, answeredAt);
  deps.logger.warn("stray instance destroyed", {
    jobId: stray.jobId,
    attempt: stray.attempt,
    instanceId: stray.instanceId,
    reason: stray.reason,
  });
  const job = await deps.store.getJob(stray.jobId);
  if (job) {
    await announce(
      deps,
      job,
      {
        detailType: "Instance Terminated",
        detail: {
          jobId: stray.jobId,
          attempt: stray.attempt,
          instanceId: stray.instanceId,
          reason: stray.reason,
        },
      },
      `instance-${stray.instanceId}`,
    );
  }
  const record = await deps.store.getAttempt(stray.jobId, stray.attempt);
  if (!record) return;
  // Priced with the attempt's rates, as if the attempt had held it from `since`.
  const cost = attemptCost(
    {
      ...record,
      instanceId: stray.instanceId,
      rentedAt: stray.since,
      // Only a running instance bills its GPU now; how long a stopped one ran before is unknown.
      runningSince: seen?.state === "running" ? seen.startedAtMs : null,
      bytesPushed: 0,
    },
    destroyedAt,
  );
  await deps.store.chargeStray({
    jobId: stray.jobId,
    instanceId: stray.instanceId,
    attempt: stray.attempt,
    at: destroyedAt,
    cost,
    reason: stray.reason,
  });
}

async function lookAt(deps: JobDeps, instanceId: number): Promise<VastInstance | undefined> {
  try {
    return await deps.vast.getInstanceStatus(instanceId);
  } catch (error) {
    deps.logger.info("could not look at a stray before destroying it", {
      instanceId,
      error: errorText(error),
    });
    return undefined;
  }
}
