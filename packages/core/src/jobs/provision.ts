/**
 * The provisioning step: rent exactly one suitable GPU for the job's next attempt.
 *
 * Order of side effects (each one survives a crash before the next):
 *   attempt recorded with its unique label → create (never retried) → instance id recorded →
 *   readiness check enqueued → job moves to `booting`.
 * A redelivered message finds the pending attempt and looks its label up before renting again.
 * One pass at a time per job (a lease); every job write is conditional on the job's version.
 */
import { randomUUID } from "node:crypto";
import { rankOffers } from "../offers";
import type { AttemptRecord, JobRecord } from "../store";
import { formatInstanceLabel, isVastAIError, type VastOffer } from "../vast";
import { applyEvent } from "./lifecycle";
import { limitExceeded } from "./limits";
import { type ProvisionDeps, redactFor, settingsOf } from "./provision-deps";
import { offerConstraintsOf } from "./request";
import { isTerminal } from "./state-machine";

/** Another pass holds the job; the message should be retried later. */
export class JobBusyError extends Error {
  override readonly name = "JobBusyError";
}

/** Vast errors that no retry can fix: the job fails with the error's message. */
const FATAL_CREATE_CODES = new Set(["auth", "insufficient_funds", "invalid_request"]);

export async function provisionJob(deps: ProvisionDeps, jobId: string): Promise<void> {
  const settings = settingsOf(deps);
  const owner = randomUUID();
  if (!(await deps.store.acquireLease(jobId, "provision", owner, settings.leaseMs))) {
    throw new JobBusyError(`job ${jobId} is being provisioned by another worker`);
  }
  try {
    await provisionUnderLease(deps, jobId);
  } finally {
    await deps.store.releaseLease(jobId, "provision", owner);
  }
}

async function provisionUnderLease(deps: ProvisionDeps, jobId: string): Promise<void> {
  let job = await deps.store.getJob(jobId);
  if (!job) {
    deps.logger.warn("provision for an unknown job", { jobId });
    return;
  }
  if (isTerminal(job.state)) return;
  if (job.state === "queued") {
    job = await applyEvent(deps, job, { type: "provision_started", reason: "picked up for provisioning" });
  }
  // booting and later: an earlier delivery already rented; nothing to do.
  if (job.state !== "provisioning") return;

  if (job.attempt > 0) {
    const current = await deps.store.getAttempt(jobId, job.attempt);
    if (current && (current.outcome === "pending" || current.outcome === "rented")) {
      const recovered = await recoverAttempt(deps, job, current);
      if (recovered) return;
      job = (await deps.store.getJob(jobId)) ?? job;
    }
  }

  const limit = limitExceeded(job, deps.clock.now());
  if (limit) {
    await applyEvent(deps, job, { type: "fail", reason: `Stopped before renting: ${limit}.` });
    return;
  }
  const attempts = await deps.store.listAttempts(jobId);
  const rentals = attempts.filter((a) => a.instanceId !== null).length;
  if (rentals >= job.request.maxAttempts) {
    await applyEvent(deps, job, { type: "fail", reason: giveUpReason(job, attempts) });
    return;
  }
  await rentNext(deps, job);
}

/**
 * The job's latest attempt has no confirmed outcome: an earlier pass crashed after recording it
 * (maybe after the create). Returns true when the attempt turned out to hold an instance.
 */
async function recoverAttempt(deps: ProvisionDeps, job: JobRecord, attempt: AttemptRecord): Promise<boolean> {
  let instanceId = attempt.instanceId;
  if (instanceId === null) {
    const found = await deps.vast.findInstanceByLabel(attempt.label);
    if (found && found.state !== "destroyed") {
      instanceId = found.instanceId;
      deps.logger.info("adopted an instance found by label", {
        jobId: job.jobId,
        instanceId,
        label: attempt.label,
      });
      // Before recording it: if this fails, the retry finds the instance by label again.
      await deps.vast.authorizeSshKey(instanceId);
      await deps.store.recordInstanceId(job.jobId, attempt.attempt, instanceId);
    } else {
      await deps.store.updateAttempt(job.jobId, attempt.attempt, {
        outcome: "not_rented",
        endedAt: deps.clock.now(),
        failureReason: "the create call did not complete and no instance carries the attempt's label",
      });
      return false;
    }
  }
  await markBooting(
    deps,
    job,
    attempt.attempt,
    instanceId,
    "recovered after an interrupted provisioning pass",
  );
  return true;
}

async function rentNext(deps: ProvisionDeps, initial: JobRecord): Promise<void> {
  const settings = settingsOf(deps);
  const { request } = initial;
  let job = initial;
  const excluded = await deps.store.recentlyFailedMachines(deps.clock.now() - settings.hostFailureWindowMs);
  let offers: VastOffer[];
  try {
    offers = await deps.vast.searchOffers({
      ...offerConstraintsOf(request),
      // The instance's disk must fit the requested size, whatever the stated minimum.
      minDiskGb: Math.max(request.minDiskGb ?? 0, request.diskGb),
      excludeMachineIds: [...excluded],
      limit: settings.searchLimit,
    });
  } catch (error) {
    if (isVastAIError(error) && FATAL_CREATE_CODES.has(error.code)) {
      await applyEvent(deps, job, { type: "fail", reason: `Offer search refused: ${error.message}` });
      return;
    }
    throw error;
  }
  const ranked = rankOffers(offers, {
    minReliability: request.minReliability,
    maxHourlyUsd: request.maxHourlyUsd,
    excludeMachineIds: excluded,
  });
  if (ranked.length === 0) {
    const skipped = excluded.size > 0 ? ` (${excluded.size} machines that failed recently were skipped)` : "";
    await applyEvent(deps, job, {
      type: "fail",
      reason: `No GPU offer matches the request: ${describe(job)}${skipped}.`,
    });
    return;
  }

  const misses: string[] = [];
  for (const offer of ranked.slice(0, settings.maxOfferTries)) {
    const attempt = job.attempt + 1;
    const label = formatInstanceLabel({ jobId: job.jobId, attempt });
    job = await deps.store.recordAttemptStarted(job.jobId, job.version, {
      attempt,
      offerId: offer.id,
      machineId: offer.machineId,
      hourlyUsd: offer.hourlyUsd,
      gpuName: offer.gpuName,
      label,
    });
    const instanceId = await createOnce(deps, job, attempt, offer, label, misses);
    if (instanceId === "fatal") return;
    if (instanceId === null) continue;
    await deps.store.recordInstanceId(job.jobId, attempt, instanceId);
    await markBooting(
      deps,
      job,
      attempt,
      instanceId,
      `rented instance ${instanceId} (offer ${offer.id}, machine ${offer.machineId ?? "?"}, ${offer.gpuName}, $${offer.hourlyUsd.toFixed(3)}/h)`,
    );
    return;
  }
  // Every tried offer slipped away (taken, or a create that rented nothing). The marketplace
  // changes by the minute: search again shortly, a bounded number of times.
  const unrented = (await deps.store.listAttempts(job.jobId)).filter(
    (a) => a.outcome === "not_rented",
  ).length;
  if (unrented < settings.maxUnrentedTries) {
    deps.logger.info("no offer could be rented; searching again later", { jobId: job.jobId, unrented });
    await deps.store.appendTimeline(job.jobId, {
      at: deps.clock.now(),
      version: job.version,
      kind: "note",
      reason: `no offer could be rented in this pass (${misses.join("; ")}); searching again`,
    });
    await deps.queue.enqueue(
      { type: "provision", jobId: job.jobId },
      { delaySeconds: settings.retryPassDelaySeconds },
    );
    return;
  }
  const tried = `${misses.length} offer${misses.length === 1 ? " was" : "s were"} tried`;
  await applyEvent(deps, job, {
    type: "fail",
    reason: `Could not rent a GPU: ${tried} and none could be rented (${misses.join("; ")}).`,
  });
}

/**
 * One create call for one recorded attempt. Returns the instance id, null to move on to the
 * next offer, or "fatal" when the job has been failed.
 */
async function createOnce(
  deps: ProvisionDeps,
  job: JobRecord,
  attempt: number,
  offer: VastOffer,
  label: string,
  misses: string[],
): Promise<number | null | "fatal"> {
  const redact = redactFor(deps);
  const notRented = async (unsafeReason: string) => {
    const reason = redact(unsafeReason);
    misses.push(`offer ${offer.id}: ${reason}`);
    await deps.store.updateAttempt(job.jobId, attempt, {
      outcome: "not_rented",
      endedAt: deps.clock.now(),
      failureReason: reason,
    });
    return null;
  };
  try {
    const created = await deps.vast.provisionInstance({
      offerId: offer.id,
      jobId: job.jobId,
      attempt,
      label,
      image: job.request.image,
      diskGb: job.request.diskGb,
    });
    return created.instanceId;
  } catch (error) {
    if (!isVastAIError(error)) throw error;
    if (error.instanceId !== null) {
      // Rented, but unusable (its SSH key could not be attached): it is ours to destroy.
      await deps.store.recordInstanceId(job.jobId, attempt, error.instanceId);
      await deps.vast.terminateInstance(error.instanceId);
      misses.push(`offer ${offer.id}: ${redact(error.message)}`);
      await deps.store.updateAttempt(job.jobId, attempt, {
        outcome: "failed",
        endedAt: deps.clock.now(),
        costUsd: 0,
        failureReason: redact(error.message),
      });
      return null;
    }
    if (error.code === "offer_unavailable") return notRented("the offer was taken before we could rent it");
    if (error.ambiguous) {
      const found = await deps.vast.findInstanceByLabel(label);
      if (found && found.state !== "destroyed") {
        deps.logger.info("create failed but rented: adopting", {
          jobId: job.jobId,
          instanceId: found.instanceId,
        });
        // Its create failed before our SSH key could be attached.
        await deps.vast.authorizeSshKey(found.instanceId);
        return found.instanceId;
      }
      return notRented(`the create call failed (${error.message}) and nothing carries the label`);
    }
    if (FATAL_CREATE_CODES.has(error.code)) {
      await notRented(error.message);
      const current = (await deps.store.getJob(job.jobId)) ?? job;
      await applyEvent(deps, current, { type: "fail", reason: `Vast refused to rent: ${error.message}` });
      return "fatal";
    }
    // Not applied (rate limit, network before sending...): leave the attempt pending. The
    // redelivered message looks the label up before renting anything else.
    throw error;
  }
}

async function markBooting(
  deps: ProvisionDeps,
  job: JobRecord,
  attempt: number,
  instanceId: number,
  reason: string,
): Promise<void> {
  const settings = settingsOf(deps);
  // Enqueued before the transition: a crash in between leaves a check that finds the job still
  // provisioning and waits for the redelivered provision message to finish the move.
  await deps.queue.enqueue(
    { type: "readiness", jobId: job.jobId, attempt, check: 0 },
    { delaySeconds: settings.readinessBackoffSeconds[0] ?? 5 },
  );
  await applyEvent(deps, job, { type: "instance_created", reason }, { details: { attempt, instanceId } });
}

function describe(job: JobRecord): string {
  const r = job.request;
  const parts = [
    `${r.numGpus}× ${r.gpuType}`,
    r.region ? `in ${r.region}` : null,
    `at most $${r.maxHourlyUsd}/h`,
    `reliability ≥ ${r.minReliability}`,
    r.minVramGb ? `≥ ${r.minVramGb} GB VRAM` : null,
    `≥ ${Math.max(r.minDiskGb ?? 0, r.diskGb)} GB disk`,
  ];
  return parts.filter(Boolean).join(", ");
}

/** The final failure reason after the last attempt, listing what happened to each rental. */
export function giveUpReason(job: JobRecord, attempts: readonly AttemptRecord[]): string {
  const rented = attempts.filter((a) => a.instanceId !== null);
  const lines = rented.map(
    (a) => `attempt ${a.attempt} on machine ${a.machineId ?? "?"}: ${a.failureReason ?? "failed"}`,
  );
  return `Gave up after ${rented.length} rented GPU${rented.length === 1 ? "" : "s"} failed to become ready (limit ${job.request.maxAttempts}): ${lines.join("; ")}.`;
}
