/**
 * The provisioning step: rent exactly one suitable GPU for the job's next attempt.
 *
 * Order of side effects (each one survives a crash before the next):
 *   dataset checked (once, before the first rental) → attempt recorded with its unique label →
 *   create (never retried) → instance id recorded → readiness check enqueued → job `booting`.
 * An attempt left open by a crash or an ambiguous create is settled by looking its label up —
 * repeatedly, over `ambiguousCreateWindowMs`, because Vast can finish a create after answering it
 * with a gateway error — before any other offer is rented. One pass at a time per job (a lease);
 * every job write is conditional on the job's version.
 */
import { randomUUID } from "node:crypto";
import {
  type DatasetInspection,
  DatasetRejectedError,
  DatasetSourceError,
  datasetDiskShortfall,
} from "../dataset";
import { errorText } from "../observability";
import { describeOfferSearch, jobOfferSearch, rankOffers } from "../offers";
import { AttemptEndedError, type AttemptRecord, type JobRecord, VersionConflictError } from "../store";
import {
  assertModelAccess,
  GatedModelWithoutTokenError,
  instanceEnvironment,
  type TrainingTemplate,
  templateDiskNeeds,
  templateFor,
  UnknownTemplateError,
} from "../training";
import { formatInstanceLabel, isVastAIError, type VastInstance, type VastOffer } from "../vast";
import { announce } from "./announce";
import {
  endAttempt,
  finishJob,
  giveUpReason,
  rentalsSoFar,
  resumeEnding,
  storageHourlyUsd,
} from "./attempts";
import { datasetPolicy } from "./dataset-rules";
import { type ProvisionDeps, redactFor, settingsOf } from "./deps";
import { applyEvent } from "./lifecycle";
import { limitExceeded } from "./limits";
import { isTerminal } from "./state-machine";
import { destroyStray } from "./strays";

/** Another pass holds the job; the message should be retried later. */
export class JobBusyError extends Error {
  override readonly name = "JobBusyError";
}

/** Vast errors that no retry can fix: the job fails with the error's message. */
const FATAL_CREATE_CODES = new Set(["auth", "insufficient_funds", "invalid_request"]);

export const PROVISION_LEASE = "provision";

export async function provisionJob(deps: ProvisionDeps, jobId: string): Promise<void> {
  const settings = settingsOf(deps).provision;
  const owner = randomUUID();
  if (!(await deps.store.acquireLease(jobId, PROVISION_LEASE, owner, settings.leaseMs))) {
    throw new JobBusyError(`job ${jobId} is being provisioned by another worker`);
  }
  try {
    await provisionUnderLease(deps, jobId);
  } finally {
    await deps.store.releaseLease(jobId, PROVISION_LEASE, owner);
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
    if (current && current.endedAt === null) {
      if ((await settleOpenAttempt(deps, job, current)) !== "settled") return;
      job = (await deps.store.getJob(jobId)) ?? job;
      if (job.state !== "provisioning") return;
    }
  }

  // Free checks first: a template that is gone, or a gated model without a token, can never run.
  let template: TrainingTemplate;
  try {
    template = templateFor(job.request.training);
    assertModelAccess(template, deps.hfToken);
  } catch (error) {
    if (!(error instanceof UnknownTemplateError || error instanceof GatedModelWithoutTokenError)) throw error;
    await finishJob(deps, job, { type: "fail", reason: `Stopped before renting: ${error.message}.` });
    return;
  }

  if (job.dataset === null) {
    const checked = await checkDatasetBeforeRenting(deps, job);
    if (!checked) return;
    job = checked;
  }
  const limit = limitExceeded(job, deps.clock.now());
  if (limit) {
    await finishJob(deps, job, { type: "fail", reason: `Stopped before renting: ${limit}.` });
    return;
  }
  const attempts = await deps.store.listAttempts(jobId);
  if (rentalsSoFar(attempts) >= job.request.maxAttempts) {
    await finishJob(deps, job, { type: "fail", reason: giveUpReason(job, attempts) });
    return;
  }
  await rentNext(deps, job, template);
}

type Settled = "booting" | "waiting" | "settled";

/**
 * The job's latest attempt is still open: an earlier pass crashed after recording it (maybe after
 * the create), or its create failed ambiguously. Returns `booting` when it turned out to hold an
 * instance, `waiting` while the label is still being looked for, `settled` once it rented nothing.
 */
async function settleOpenAttempt(
  deps: ProvisionDeps,
  job: JobRecord,
  attempt: AttemptRecord,
): Promise<Settled> {
  const settings = settingsOf(deps).provision;
  if (attempt.endRequestedAt !== null) {
    // Someone began ending it (a cancel, a key that could not be attached) and did not finish;
    // an instance carrying its label is nobody's now.
    if (attempt.instanceId === null) {
      const stray = await deps.vast.findInstanceByLabel(attempt.label);
      if (stray && stray.state !== "destroyed") {
        await destroyStray(deps, {
          jobId: job.jobId,
          attempt: attempt.attempt,
          instanceId: stray.instanceId,
          since: attempt.startedAt,
          instance: stray,
          reason: attempt.endIntent?.reason ?? "its attempt was ending",
        });
      }
    }
    await resumeEnding(deps, job, attempt);
    return "settled";
  }
  if (attempt.instanceId !== null) {
    // Rented and recorded; the pass crashed before moving the job on.
    await markBooting(
      deps,
      job,
      attempt.attempt,
      attempt.instanceId,
      "recovered after an interrupted provisioning pass",
    );
    return "booting";
  }
  const lookedAt = deps.clock.now();
  const found = await deps.vast.findInstanceByLabel(attempt.label);
  if (found && found.state !== "destroyed") {
    return (await adopt(deps, job, attempt, found)) ? "booting" : "settled";
  }
  const now = deps.clock.now();
  // A crashed pass may have sent the create; it counts as ambiguous from when it was recorded.
  const since = attempt.unresolvedSince ?? attempt.startedAt;
  if (now - since < settings.ambiguousCreateWindowMs) {
    await deps.store.updateAttempt(job.jobId, attempt.attempt, {
      outcome: "unresolved",
      unresolvedSince: since,
      labelLookups: attempt.labelLookups + 1,
      labelMissedAt: lookedAt,
    });
    await deps.queue.enqueue(
      { type: "provision", jobId: job.jobId },
      { delaySeconds: settings.ambiguousLookupDelaySeconds },
    );
    return "waiting";
  }
  const looked = await deps.store.updateAttempt(job.jobId, attempt.attempt, {
    labelLookups: attempt.labelLookups + 1,
  });
  await endUnrented(
    deps,
    job,
    looked,
    `no instance carried the attempt's label within ${Math.round((now - since) / 1000)} s of the create (${attempt.labelLookups + 1} look-ups)`,
  );
  return "settled";
}

/** Ends an attempt that rented nothing (through the one ending path: it may have rented after all). */
async function endUnrented(deps: ProvisionDeps, job: JobRecord, attempt: AttemptRecord, reason: string) {
  await endAttempt(deps, job, attempt, { outcome: "failed", reason }, { next: "continue" });
}

/** Takes over an instance found by the attempt's label; false when the attempt ended meanwhile. */
async function adopt(
  deps: ProvisionDeps,
  job: JobRecord,
  attempt: AttemptRecord,
  instance: VastInstance,
): Promise<boolean> {
  deps.logger.info("adopting an instance found by label", {
    jobId: job.jobId,
    instanceId: instance.instanceId,
    label: attempt.label,
  });
  // Its create failed before our SSH key could be attached. Before recording it: if this throws,
  // the retry finds the instance by label again (and the last delivery destroys it).
  await deps.vast.authorizeSshKey(instance.instanceId);
  if (!(await recordRented(deps, job, attempt, instance.instanceId, instance))) return false;
  await markBooting(
    deps,
    job,
    attempt.attempt,
    instance.instanceId,
    `adopted instance ${instance.instanceId}, found by its label after an unclear create`,
  );
  return true;
}

/**
 * Records the rented instance on the attempt; a cancel that ended the attempt first makes it a
 * stray. An instance found by label (`found`) was created by the attempt's create call, after the
 * last look-up that did not find it (Vast may finish a create late): it has billed its disk since
 * then — the closest bound Vast's API gives, which shows no creation time — and its GPU since
 * Vast's start date if it runs already.
 */
async function recordRented(
  deps: ProvisionDeps,
  job: JobRecord,
  attempt: Pick<AttemptRecord, "attempt" | "startedAt" | "labelMissedAt">,
  instanceId: number,
  found?: VastInstance,
): Promise<boolean> {
  try {
    await deps.store.recordInstanceId(
      job.jobId,
      attempt.attempt,
      instanceId,
      found ? (attempt.labelMissedAt ?? attempt.startedAt) : undefined,
    );
    if (found?.state === "running" && found.startedAtMs !== null) {
      await deps.store.updateAttempt(job.jobId, attempt.attempt, { runningSince: found.startedAtMs });
    }
    return true;
  } catch (error) {
    if (!(error instanceof AttemptEndedError)) throw error;
    await destroyStray(deps, {
      jobId: job.jobId,
      attempt: attempt.attempt,
      instanceId,
      since: attempt.startedAt,
      reason: "its attempt ended while the create was in flight",
    });
    return false;
  }
}

/**
 * Inspects the dataset (listing, HEAD) before anything is rented: a dataset that can never be
 * trained on fails the job now, for free, instead of after a boot and a push. Returns the job with
 * the summary recorded, or null when the job ended.
 */
async function checkDatasetBeforeRenting(deps: ProvisionDeps, job: JobRecord): Promise<JobRecord | null> {
  const settings = settingsOf(deps).dataset;
  const refuse = async (why: string) => {
    await finishJob(deps, job, {
      type: "fail",
      reason: `The dataset was refused before renting a GPU: ${why}`,
    });
    return null;
  };
  let summary: DatasetInspection;
  try {
    summary = await deps.datasets.inspect(job.request.dataset, {
      policy: datasetPolicy(settings),
      allowedBuckets: settings.allowedBuckets,
    });
  } catch (error) {
    if (error instanceof DatasetRejectedError || (error instanceof DatasetSourceError && error.permanent)) {
      return await refuse(redactFor(deps)(error.message));
    }
    throw error;
  }
  const needs = templateDiskNeeds(job.request.training);
  const shortfall = datasetDiskShortfall({
    diskGb: job.request.diskGb,
    datasetBytes: summary.bytes ?? summary.archiveBytes ?? 0,
    ...needs,
  });
  if (shortfall) return await refuse(shortfall);
  const recorded = await deps.store.recordDatasetSummary(job.jobId, job.version, {
    files: summary.files,
    bytes: summary.bytes,
    archiveBytes: summary.archiveBytes,
    checkedAt: deps.clock.now(),
  });
  await deps.store.appendTimeline(job.jobId, {
    at: deps.clock.now(),
    version: recorded.version,
    kind: "note",
    reason: `dataset checked: ${summary.files ?? "?"} files, ${summary.bytes ?? summary.archiveBytes ?? "?"} bytes`,
    details: { ...summary, kind: "dataset_checked", source: summary.kind },
  });
  return recorded;
}

type CreateOutcome =
  | { kind: "rented"; instanceId: number }
  /** The offer slipped away or the create rented nothing: try the next offer. */
  | { kind: "missed" }
  /** An ambiguous create is being resolved by label; a later pass continues. */
  | { kind: "waiting" }
  /** The job has ended. */
  | { kind: "ended" };

async function rentNext(deps: ProvisionDeps, initial: JobRecord, template: TrainingTemplate): Promise<void> {
  const settings = settingsOf(deps).provision;
  const { request } = initial;
  let job = initial;
  const excluded = await deps.store.recentlyFailedMachines(deps.clock.now() - settings.hostFailureWindowMs);
  // The request's constraints raised to the template's needs (CUDA, VRAM, disk) and a bandwidth floor.
  const search = jobOfferSearch(request, template.host, job.dataset?.bytes ?? null);
  let offers: VastOffer[];
  try {
    offers = await deps.vast.searchOffers({
      ...search,
      excludeMachineIds: [...excluded],
      limit: settings.searchLimit,
    });
  } catch (error) {
    if (isVastAIError(error) && FATAL_CREATE_CODES.has(error.code)) {
      await finishJob(deps, job, { type: "fail", reason: `Offer search refused: ${error.message}` });
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
    await finishJob(deps, job, {
      type: "fail",
      reason: `No GPU offer matches the request: ${describeOfferSearch(search)}${skipped}.`,
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
      gpuHourlyUsd: offer.gpuHourlyUsd,
      storageHourlyUsd:
        offer.storageUsdPerGbMonth === null
          ? null
          : storageHourlyUsd(offer.storageUsdPerGbMonth, request.diskGb),
      bandwidthUsdPerGb: offer.inetDownUsdPerGb,
    });
    const outcome = await createOnce(deps, job, attempt, offer, label, misses, template);
    if (outcome.kind === "waiting" || outcome.kind === "ended") return;
    if (outcome.kind === "missed") {
      job = (await deps.store.getJob(job.jobId)) ?? job;
      if (job.state !== "provisioning") return;
      continue;
    }
    const record = (await deps.store.getAttempt(job.jobId, attempt)) as AttemptRecord;
    if (!(await recordRented(deps, job, record, outcome.instanceId))) return;
    await markBooting(
      deps,
      job,
      attempt,
      outcome.instanceId,
      `rented instance ${outcome.instanceId} (offer ${offer.id}, machine ${offer.machineId ?? "?"}, ${offer.gpuName}, $${offer.hourlyUsd.toFixed(3)}/h)`,
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
  await finishJob(deps, job, {
    type: "fail",
    reason: `Could not rent a GPU: ${tried} and none could be rented (${misses.join("; ")}).`,
  });
}

/** One create call for one recorded attempt. */
async function createOnce(
  deps: ProvisionDeps,
  job: JobRecord,
  attempt: number,
  offer: VastOffer,
  label: string,
  misses: string[],
  template: TrainingTemplate,
): Promise<CreateOutcome> {
  const settings = settingsOf(deps).provision;
  const redact = redactFor(deps);
  const record = async () => (await deps.store.getAttempt(job.jobId, attempt)) as AttemptRecord;
  const notRented = async (unsafeReason: string): Promise<CreateOutcome> => {
    const reason = redact(unsafeReason);
    misses.push(`offer ${offer.id}: ${reason}`);
    await endUnrented(deps, job, await record(), reason);
    return { kind: "missed" };
  };
  try {
    const created = await deps.vast.provisionInstance({
      offerId: offer.id,
      jobId: job.jobId,
      attempt,
      label,
      image: job.request.image ?? template.image.ref,
      diskGb: job.request.diskGb,
      // The Hugging Face token for a gated model; the create body is never logged or stored, and
      // the Vast client redacts the token from anything Vast answers.
      env: instanceEnvironment(template, deps.hfToken),
    });
    return { kind: "rented", instanceId: created.instanceId };
  } catch (error) {
    if (!isVastAIError(error)) throw error;
    if (error.instanceId !== null) {
      // Rented, but unusable (its SSH key could not be attached): the attempt ends without it,
      // and the instance is destroyed as a stray (charged to the job). Ending the attempt first
      // means a crash before the destroy leaves an instance the reaper recognises as a stray.
      const reason = redact(error.message);
      misses.push(`offer ${offer.id}: ${reason}`);
      const ending = await deps.store.requestAttemptEnd(
        job.jobId,
        attempt,
        { next: "continue", event: null, reason, hostFailure: false },
        deps.clock.now(),
      );
      await destroyStray(deps, {
        jobId: job.jobId,
        attempt,
        instanceId: error.instanceId,
        since: ending.startedAt,
        reason,
      });
      await endUnrented(deps, job, ending, reason);
      return { kind: "missed" };
    }
    if (error.code === "offer_unavailable") return notRented("the offer was taken before we could rent it");
    if (error.ambiguous) {
      const lookedAt = deps.clock.now();
      const found = await deps.vast.findInstanceByLabel(label);
      if (found && found.state !== "destroyed") {
        deps.logger.info("create failed but rented: adopting", {
          jobId: job.jobId,
          instanceId: found.instanceId,
        });
        // Its create failed before our SSH key could be attached.
        await deps.vast.authorizeSshKey(found.instanceId);
        return { kind: "rented", instanceId: found.instanceId };
      }
      // Vast may still be creating it: look again for a while before renting anything else.
      await deps.store.updateAttempt(job.jobId, attempt, {
        outcome: "unresolved",
        unresolvedSince: deps.clock.now(),
        labelLookups: 1,
        labelMissedAt: lookedAt,
        failureReason: redact(`the create call failed ambiguously (${error.message})`),
      });
      await deps.store.appendTimeline(job.jobId, {
        at: deps.clock.now(),
        version: job.version,
        kind: "note",
        reason: redact(
          `attempt ${attempt}: the create failed ambiguously (${error.message}); looking its label up again before renting another offer`,
        ),
      });
      await deps.queue.enqueue(
        { type: "provision", jobId: job.jobId },
        { delaySeconds: settings.ambiguousLookupDelaySeconds },
      );
      return { kind: "waiting" };
    }
    if (FATAL_CREATE_CODES.has(error.code)) {
      await notRented(error.message);
      const current = (await deps.store.getJob(job.jobId)) ?? job;
      await finishJob(deps, current, {
        type: "fail",
        reason: `Vast refused to rent: ${redact(error.message)}`,
      });
      return { kind: "ended" };
    }
    // Refused before anything was rented (a 429, a connection that never reached Vast): the
    // attempt rented nothing, for sure. The message is retried, and renting resumes then.
    await notRented(`the create was not accepted (${error.message})`);
    throw error;
  }
}

async function markBooting(
  deps: ProvisionDeps,
  jobBefore: JobRecord,
  attempt: number,
  instanceId: number,
  reason: string,
): Promise<void> {
  const settings = settingsOf(deps).provision;
  // Enqueued before the transition: a crash in between leaves a check that finds the job still
  // provisioning and waits for the redelivered provision message to finish the move.
  await deps.queue.enqueue(
    { type: "readiness", jobId: jobBefore.jobId, attempt, check: 0 },
    { delaySeconds: settings.readinessBackoffSeconds[0] ?? 5 },
  );
  let job = jobBefore;
  for (let round = 0; round < 5; round++) {
    if (job.state !== "provisioning") return;
    try {
      const booting = await applyEvent(
        deps,
        job,
        { type: "instance_created", reason },
        { details: { attempt, instanceId } },
      );
      const record = await deps.store.getAttempt(job.jobId, attempt);
      if (record) {
        await announce(
          deps,
          booting,
          {
            detailType: "Instance Provisioned",
            detail: {
              jobId: job.jobId,
              attempt,
              instanceId,
              offerId: record.offerId,
              machineId: record.machineId,
              gpuName: record.gpuName,
              hourlyUsd: record.hourlyUsd,
            },
          },
          `instance-${instanceId}`,
        );
      }
      return;
    } catch (error) {
      // A cancel may have won; its ending destroys the instance this attempt now holds.
      if (!(error instanceof VersionConflictError)) throw error;
      job = (await deps.store.getJob(job.jobId)) ?? job;
    }
  }
}

/**
 * The provision queue's last delivery failed: destroy whatever the job's open attempt holds (or
 * whatever carries its label) and fail the job with the error, rather than let the message sink
 * into the dead-letter queue with a GPU billing.
 */
export async function giveUpProvisioning(
  deps: ProvisionDeps,
  jobId: string,
  lastError: unknown,
): Promise<void> {
  const job = await deps.store.getJob(jobId);
  if (!job || isTerminal(job.state)) return;
  if (job.attempt > 0) {
    const record = await deps.store.getAttempt(jobId, job.attempt);
    if (record && record.endedAt === null && record.instanceId === null) {
      const found = await deps.vast.findInstanceByLabel(record.label);
      if (found && found.state !== "destroyed") {
        // Recorded so that ending the attempt destroys it and charges it to the job.
        await recordRented(deps, job, record, found.instanceId, found);
      }
    }
  }
  const reason = redactFor(deps)(`Provisioning kept failing; the last error was: ${errorText(lastError)}`);
  await finishJob(deps, (await deps.store.getJob(jobId)) ?? job, { type: "fail", reason });
}
