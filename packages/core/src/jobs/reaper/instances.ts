/**
 * The reaper's pass over Vast's list: every instance carrying our label prefix is traced to the
 * attempt its label names. Held by a live attempt → left to the job pass. Being created (its
 * attempt has not recorded an instance yet) → left alone. Its attempt ended or holds another
 * instance → a stray, destroyed now and charged to its job. No such job or attempt in the table →
 * an orphan, destroyed once it has been seen for the grace period. Instances without our label are
 * never touched. Destroys Vast accepted earlier are verified here too: still listed → destroyed
 * again; gone → marked done.
 */
import { publishBestEffort } from "../../events";
import type { AttemptRecord, JobRecord } from "../../store";
import { hasRentalLabelPrefix, parseInstanceLabel, type VastInstance } from "../../vast";
import { destroyStray } from "../strays";
import { count, forEachLimited, type ReaperRun } from "./context";

interface Traced {
  instance: VastInstance;
  jobId: string;
  attempt: number;
}

export async function reconcileInstances(run: ReaperRun): Promise<void> {
  const { store } = run.deps;
  const traced: Traced[] = [];
  const unreadable: VastInstance[] = [];
  for (const instance of run.instances.values()) {
    if (instance.state === "destroyed" || !isOurs(instance)) continue;
    const owner = parseInstanceLabel(instance.label);
    if (owner) traced.push({ instance, jobId: owner.jobId, attempt: owner.attempt });
    // Our prefix, but naming no job we could have written: nothing will ever claim it.
    else unreadable.push(instance);
  }
  const attempts = new Map(
    (await store.getAttempts(traced.map((t) => ({ jobId: t.jobId, attempt: t.attempt })))).map((a) => [
      `${a.jobId}#${a.attempt}`,
      a,
    ]),
  );
  const jobs = new Map(
    (await store.getJobs([...new Set(traced.map((t) => t.jobId))])).map((j) => [j.jobId, j]),
  );

  await forEachLimited(
    run,
    traced,
    run.settings.concurrency,
    (t) => reconcileOne(run, t, jobs.get(t.jobId) ?? null, attempts.get(`${t.jobId}#${t.attempt}`) ?? null),
    (t) => ({ instanceId: t.instance.instanceId, jobId: t.jobId, attempt: t.attempt }),
  );
  await forEachLimited(
    run,
    unreadable,
    run.settings.concurrency,
    (instance) => reapOrphan(run, instance),
    (instance) => ({ instanceId: instance.instanceId, label: instance.label }),
  );
  await verifyDestroys(run);
}

/** Carries our label prefix (whether or not the rest of the label parses). */
export function isOurs(instance: VastInstance): boolean {
  return hasRentalLabelPrefix(instance.label);
}

async function reconcileOne(
  run: ReaperRun,
  traced: Traced,
  job: JobRecord | null,
  attempt: AttemptRecord | null,
): Promise<void> {
  const { deps } = run;
  const { instance } = traced;
  if (!job || !attempt) {
    await reapOrphan(run, instance);
    return;
  }
  if (attempt.instanceId === instance.instanceId) {
    if (attempt.endedAt === null && attempt.destroyedAt === null) return; // held: the job pass's
    // Its destroy was accepted, yet Vast still lists it running: destroy again until it is gone.
    await deps.vast.terminateInstance(instance.instanceId);
    count(run, "destroy_retried");
    return;
  }
  if (attempt.instanceId === null && attempt.endedAt === null) {
    // The create is in flight or being resolved by label: the provisioning step adopts it.
    count(run, "creating_left");
    return;
  }
  await destroyStray(deps, {
    jobId: traced.jobId,
    attempt: traced.attempt,
    instanceId: instance.instanceId,
    since: attempt.unresolvedSince ?? attempt.startedAt,
    instance,
    reason:
      attempt.instanceId === null
        ? `created after attempt ${attempt.attempt} gave up waiting for it (${attempt.outcome})`
        : `attempt ${attempt.attempt} holds instance ${attempt.instanceId}, not this one`,
  });
  count(run, "stray_destroyed");
}

async function reapOrphan(run: ReaperRun, instance: VastInstance): Promise<void> {
  const { deps, settings, now } = run;
  const firstSeen = await deps.store.orphanFirstSeen(instance.instanceId, now);
  // Vast's start date counts too: an instance running for longer than the grace period (seen
  // late, after an outage of the poller, say) has waited long enough.
  const since = Math.min(firstSeen, instance.startedAtMs ?? Number.POSITIVE_INFINITY);
  if (now - since < settings.orphanGraceMs) {
    count(run, "orphan_waiting");
    return;
  }
  // Destroyed again on every run for as long as Vast lists it (a destroy Vast ignored); the
  // sighting record itself expires with the table's TTL.
  await deps.vast.terminateInstance(instance.instanceId);
  await publishBestEffort(deps, {
    detailType: "Instance Terminated",
    detail: {
      jobId: null,
      attempt: null,
      instanceId: instance.instanceId,
      reason: "an orphan: no job owns it",
    },
  });
  deps.logger.warn("orphan instance destroyed", {
    instanceId: instance.instanceId,
    label: instance.label,
    ageSeconds: Math.round((now - since) / 1000),
  });
  count(run, "orphan_destroyed");
}

/** Destroys accepted earlier: those Vast no longer lists are done; the others were retried above. */
async function verifyDestroys(run: ReaperRun): Promise<void> {
  for (const destroy of await run.deps.store.listUnverifiedDestroys()) {
    const listed = run.instances.get(destroy.instanceId);
    // Accepted after the list was fetched: the next run looks.
    if (destroy.destroyedAt >= run.listedAt) continue;
    if (listed && listed.state !== "destroyed") continue;
    await run.deps.store.markDestroyVerified(destroy.jobId, destroy.attempt, run.now);
    count(run, "destroy_verified");
  }
}
