/**
 * What the local stack rented must not outlive it: before the stack stops, every job still running
 * is cancelled through the same teardown path the API uses (the instance is destroyed and charged
 * first), and any instance whose label names a job of this stack is destroyed. Instances labelled for
 * jobs this stack does not know are left alone — with `--live` they may belong to a deployment that
 * shares the Vast account.
 */
import {
  cancelJob,
  isTerminal,
  type JobDependencies,
  JobStateSchema,
  parseInstanceLabel,
} from "@vast-rental/core";

export interface ReleasedRentals {
  /** Jobs that were still running and were cancelled. */
  cancelledJobs: string[];
  /** Instances of this stack's jobs destroyed after the cancels (e.g. a create that completed late). */
  destroyedInstances: number[];
  /** What could not be released, one line each (the caller must show it: money may be at stake). */
  problems: string[];
}

export const STOPPED_REASON = "cancelled: the local stack was stopped";

export async function releaseRentals(deps: JobDependencies): Promise<ReleasedRentals> {
  const released: ReleasedRentals = { cancelledJobs: [], destroyedInstances: [], problems: [] };
  const known = new Set<string>();
  for (const state of JobStateSchema.options) {
    if (isTerminal(state)) continue;
    let cursor: string | undefined;
    do {
      const page = await deps.store.listActiveJobs(state, cursor ? { cursor } : {});
      for (const job of page.jobs) {
        known.add(job.jobId);
        try {
          await cancelJob(deps, job.jobId, STOPPED_REASON);
          released.cancelledJobs.push(job.jobId);
        } catch (error) {
          released.problems.push(`job ${job.jobId}: ${describe(error)}`);
        }
      }
      cursor = page.cursor ?? undefined;
    } while (cursor);
  }

  let instances: Awaited<ReturnType<JobDependencies["vast"]["listInstances"]>>;
  try {
    instances = await deps.vast.listInstances();
  } catch (error) {
    released.problems.push(`listing instances: ${describe(error)}`);
    return released;
  }
  for (const instance of instances) {
    const owner = parseInstanceLabel(instance.label);
    if (!owner) continue;
    if (!known.has(owner.jobId) && !(await deps.store.getJob(owner.jobId))) continue;
    try {
      await deps.vast.terminateInstance(instance.instanceId);
      released.destroyedInstances.push(instance.instanceId);
    } catch (error) {
      released.problems.push(`instance ${instance.instanceId}: ${describe(error)}`);
    }
  }
  return released;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
