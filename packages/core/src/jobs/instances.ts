/**
 * Operator commands on Vast instances, for the HTTP API and the EventBridge subscriber. Only
 * instances carrying our label are ever shown or touched: anything else answers as not found,
 * exactly like an instance that does not exist. Terminating an instance a live job holds ends that
 * attempt through the one teardown path (destroyed, charged, the job moves on to another GPU when
 * it may); a job collecting its LoRA cannot move (its run finished on that instance), so the next
 * completion check fails it unless the LoRA was already stored. Any other instance of ours is
 * destroyed as a stray.
 */
import { hasRentalLabelPrefix, parseInstanceLabel, type VastInstance } from "../vast";
import { AttemptEndingTakenError, endAttempt } from "./attempts";
import type { JobDeps } from "./deps";
import { destroyStray } from "./strays";

/** No instance of ours by that id (it may exist, and belong to someone else). */
export class InstanceNotFoundError extends Error {
  override readonly name = "InstanceNotFoundError";
  constructor(readonly instanceId: number) {
    super(`instance ${instanceId} not found`);
  }
}

export async function listOurInstances(deps: Pick<JobDeps, "vast">): Promise<VastInstance[]> {
  return (await deps.vast.listInstances()).filter(
    (instance) => instance.state !== "destroyed" && hasRentalLabelPrefix(instance.label),
  );
}

export async function getOurInstance(deps: Pick<JobDeps, "vast">, instanceId: number): Promise<VastInstance> {
  const instance = await deps.vast.getInstanceStatus(instanceId);
  if (instance.state === "destroyed" || !hasRentalLabelPrefix(instance.label)) {
    throw new InstanceNotFoundError(instanceId);
  }
  return instance;
}

export async function stopOurInstance(deps: Pick<JobDeps, "vast">, instanceId: number): Promise<void> {
  await getOurInstance(deps, instanceId);
  await deps.vast.stopInstance(instanceId);
}

export async function startOurInstance(deps: Pick<JobDeps, "vast">, instanceId: number): Promise<void> {
  await getOurInstance(deps, instanceId);
  await deps.vast.startInstance(instanceId);
}

export interface TerminatedInstance {
  instanceId: number;
  /**
   * `attempt`: a live job held it (that attempt ended); `ending`: a live job held it and its ending
   * was already claimed for the stored LoRA (the completion check destroys it); `stray`: nobody held it.
   */
  held: "attempt" | "ending" | "stray";
  jobId: string | null;
}

export async function terminateOurInstance(
  deps: JobDeps,
  instanceId: number,
  reason = "terminated on request",
): Promise<TerminatedInstance> {
  const instance = await getOurInstance(deps, instanceId);
  const owner = parseInstanceLabel(instance.label);
  const job = owner ? await deps.store.getJob(owner.jobId) : null;
  const attempt = owner && job ? await deps.store.getAttempt(owner.jobId, owner.attempt) : null;
  if (job && attempt && attempt.instanceId === instanceId && attempt.endedAt === null) {
    try {
      await endAttempt(deps, job, attempt, { outcome: "failed", reason }, { next: "retry" });
    } catch (error) {
      // The completion check claimed the ending for the stored LoRA: it destroys the instance.
      if (!(error instanceof AttemptEndingTakenError)) throw error;
      return { instanceId, held: "ending", jobId: job.jobId };
    }
    return { instanceId, held: "attempt", jobId: job.jobId };
  }
  if (owner && attempt) {
    await destroyStray(deps, {
      jobId: owner.jobId,
      attempt: owner.attempt,
      instanceId,
      since: attempt.startedAt,
      instance,
      reason,
    });
    return { instanceId, held: "stray", jobId: owner.jobId };
  }
  await deps.vast.terminateInstance(instanceId);
  return { instanceId, held: "stray", jobId: null };
}
