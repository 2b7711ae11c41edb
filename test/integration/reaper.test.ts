/**
 * The poller/reaper end to end: real handlers, DynamoDB Local, fauxqs and the simulator (with
 * real SSH per instance). Each case sets up what the reaper must find — an orphan, a finished
 * run, a job over budget, an outbid instance, a create that completed late, a destroy Vast
 * ignored, a foreign instance, a lost step — runs `runReaper` and checks the simulator's record of
 * every instance and the table. The simulator's clock is the orchestrator's clock.
 */
import { describe, expect, it } from "vitest";
import { createPollerHandler } from "../../functions/poller";
import {
  cancelJob,
  checkJobTraining,
  type ReaperActionCounts,
  type ReaperSummary,
  runReaper,
} from "../../packages/core/src/jobs";
import { expectInvariantsHold, useScenarios } from "../support/provision-harness";
import {
  crashingStore,
  type PushScenario,
  startPushScenario,
  untilTrainingExited,
} from "../support/push-harness";

const scenarios = useScenarios(startPushScenario);

/** Free offers of the simulator's marketplace, as they are now. */
const freeOffers = (s: PushScenario) => s.base.sim.admin.offers().filter((o) => o.rentable && !o.rented);

/** Rents an instance behind the orchestrator's back (another tool, a lost create). */
async function rentDirectly(s: PushScenario, label: string | null, offerId?: number): Promise<number> {
  const offer = offerId ?? freeOffers(s)[0]?.id;
  if (offer === undefined) throw new Error("no offer left to rent");
  const { instanceId } = await s.base.service.client.createInstance(offer, {
    client_id: "me",
    image: "pytorch/pytorch",
    disk: 20,
    ...(label === null ? {} : { label }),
    runtype: "ssh_direc ssh_proxy",
  });
  return instanceId;
}

const destroyed = (s: PushScenario, id: number) => s.base.sim.admin.instance(id)?.destroyedAtMs !== null;

/** Only the non-zero counts, for readable assertions. */
function acted(summary: ReaperSummary): Partial<ReaperActionCounts> {
  return Object.fromEntries(Object.entries(summary.actions).filter(([, n]) => n > 0));
}

async function toTraining(s: PushScenario, overrides: Record<string, unknown> = {}, durationSeconds = 0.2) {
  const ids = await s.jobToPushing(overrides, { durationSeconds });
  expect(await s.pumpPush()).toEqual({ received: 1, failed: 0 });
  expect((await s.store.getJob(ids.jobId))?.state).toBe("training");
  return ids;
}

describe("runReaper", () => {
  it("destroys an orphan (our label, no such job) once its grace period has passed, and never a foreign instance", async () => {
    const s = await scenarios.start({ seed: 71 });
    const orphan = await rentDirectly(s, "vast-rental:job_nobody_knows:1");
    const garbled = await rentDirectly(s, "vast-rental:no-attempt-number");
    const foreign = await rentDirectly(s, "my-notebook");
    const unlabelled = await rentDirectly(s, null);

    const first = await runReaper(s.deps);
    expect(first).toMatchObject({ skipped: false, instancesSeen: 4, ours: 2, foreign: 2, pages: 1 });
    expect(acted(first)).toEqual({ orphan_waiting: 2 });
    s.base.sim.admin.advance(599);
    expect(acted(await runReaper(s.deps))).toEqual({ orphan_waiting: 2 });
    expect(destroyed(s, orphan)).toBe(false);

    s.base.sim.admin.advance(2);
    expect(acted(await runReaper(s.deps))).toEqual({ orphan_destroyed: 2 });
    expect(destroyed(s, orphan)).toBe(true);
    expect(destroyed(s, garbled)).toBe(true);
    s.base.sim.admin.advance(3600);
    expect(acted(await runReaper(s.deps))).toEqual({});
    expect(destroyed(s, foreign)).toBe(false);
    expect(destroyed(s, unlabelled)).toBe(false);
  });

  it("destroys at first sight an orphan Vast says has been running for longer than the grace period", async () => {
    const s = await scenarios.start({ seed: 69 });
    const orphan = await rentDirectly(s, "vast-rental:job_from_before_an_outage:1");
    // The poller was down: the instance booted (25 s) and ran for ten minutes unseen.
    s.base.sim.admin.advance(25 + 601);
    expect(acted(await runReaper(s.deps))).toEqual({ orphan_destroyed: 1 });
    expect(destroyed(s, orphan)).toBe(true);
  });

  it("collects a finished run and destroys its instance", async () => {
    const s = await scenarios.start({ seed: 72 });
    const { jobId, instanceId } = await toTraining(s);
    await untilTrainingExited(s, instanceId, jobId);
    const summary = await runReaper(s.deps);
    expect(acted(summary)).toEqual({ training_checked: 1, training_succeeded: 1 });
    expect(await s.store.getJob(jobId)).toMatchObject({ state: "succeeded" });
    expect(destroyed(s, instanceId)).toBe(true);
    await expectInvariantsHold(s.base);
  });

  it("finishes a harvest that crashed between the destroy and the books: succeeded, charged once", async () => {
    const s = await scenarios.start({ seed: 68 });
    const { jobId, instanceId } = await toTraining(s);
    await untilTrainingExited(s, instanceId, jobId);
    const crashing = { ...s.deps, store: crashingStore(s.store, "endAttempt") };
    await expect(checkJobTraining(crashing, jobId)).rejects.toThrow(/simulated crash/);
    expect(await s.store.getJob(jobId)).toMatchObject({ state: "collecting" });
    expect(destroyed(s, instanceId)).toBe(true);
    // Within the reaper's patience the step may still be finishing it: left alone.
    expect(acted(await runReaper(s.deps))).toEqual({});
    // Past it, the step crashed: its ending is finished the way it meant (the artifact is stored).
    s.base.sim.admin.advance(5 * 60 + 1);
    expect(acted(await runReaper(s.deps))).toEqual({ training_checked: 1, training_succeeded: 1 });
    const job = await s.store.getJob(jobId);
    expect(job?.state).toBe("succeeded");
    const ledger = s.base.sim.admin.instance(instanceId)?.ledger.totalMicros ?? 0;
    expect(Math.abs((job?.costUsd ?? 0) - ledger / 1e6)).toBeLessThan(0.02 * (ledger / 1e6) + 1e-6);
    expect(
      (await s.store.getTimeline(jobId)).filter((t) => t.kind === "attempt" && /ended/.test(t.reason)),
    ).toHaveLength(1);
    await expectInvariantsHold(s.base);
  });

  it("finishes a cancel that crashed between the destroy and the books as a cancel: no new GPU is rented", async () => {
    const s = await scenarios.start({ seed: 67 });
    const { jobId, instanceId } = await toTraining(s, {}, 600);
    const crashing = { ...s.deps, store: crashingStore(s.store, "markDestroyed") };
    await expect(cancelJob(crashing, jobId, "the customer cancelled")).rejects.toThrow(/simulated crash/);
    expect(destroyed(s, instanceId)).toBe(true);
    expect(await s.store.getJob(jobId)).toMatchObject({ state: "training" });
    s.base.sim.admin.advance(5 * 60 + 1);
    await runReaper(s.deps);
    const job = await s.store.getJob(jobId);
    expect(job).toMatchObject({ state: "cancelled", reason: "the customer cancelled", attempt: 1 });
    expect(s.base.sim.admin.instances()).toHaveLength(1);
    expect(await s.store.recentlyFailedMachines(0)).toEqual(new Set());
    await expectInvariantsHold(s.base);
  });

  it("asks Vast before calling an instance missing from its list gone (the list may predate it)", async () => {
    const s = await scenarios.start({ seed: 66, sim: { ssh: false } });
    const jobId = await seedBooting(s, freeOffers(s)[0]?.id as number);
    const instanceId = (await s.store.getAttempt(jobId, 1))?.instanceId as number;
    s.base.sim.admin.advance(3 * 60);
    await s.store.claimReadinessCheck(jobId, 1, 5, "fresh", s.base.sim.admin.now());
    // A list fetched before the instance existed, as after an adoption by label.
    const staleList = {
      ...s.deps,
      vast: {
        ...s.deps.vast,
        listInstances: async (options?: { onPage?: () => void }) =>
          (await s.deps.vast.listInstances(options)).filter((i) => i.instanceId !== instanceId),
      },
    };
    s.base.sim.admin.resetRequestCounts();
    const summary = await runReaper(staleList);
    expect(acted(summary)).toEqual({});
    expect(s.base.sim.admin.requestCounts().byEndpoint).toEqual({ list: 1, show: 1 });
    expect(destroyed(s, instanceId)).toBe(false);
    expect(await s.store.getJob(jobId)).toMatchObject({ state: "booting" });
  });

  it("enforces budgets on every training job, also those it has no time to check over SSH", async () => {
    const s = await scenarios.start({ seed: 65, settings: { reaper: { maxCompletionChecks: 1 } } });
    const a = await toTraining(s, { budgetUsd: 0.25 }, 600);
    const b = await toTraining(s, { budgetUsd: 0.25 }, 600);
    s.base.sim.admin.advance(3600);
    expect(acted(await runReaper(s.deps))).toEqual({ limit_ended: 2 });
    for (const { jobId, instanceId } of [a, b]) {
      expect((await s.store.getJob(jobId))?.state).toBe("failed");
      expect(destroyed(s, instanceId)).toBe(true);
    }
  });

  it("destroys an orphan again on the next run when Vast ignored the destroy", async () => {
    const s = await scenarios.start({ seed: 64 });
    const orphan = await rentDirectly(s, "vast-rental:job_nobody:1");
    await s.base.sim.admin.addFault({ kind: "destroy_ignored", instanceId: orphan, times: 1 });
    await runReaper(s.deps);
    s.base.sim.admin.advance(601);
    expect(acted(await runReaper(s.deps))).toEqual({ orphan_destroyed: 1 });
    expect(destroyed(s, orphan)).toBe(false);
    s.base.sim.admin.advance(60);
    expect(acted(await runReaper(s.deps))).toEqual({ orphan_destroyed: 1 });
    expect(destroyed(s, orphan)).toBe(true);
  });

  it("ends a job that reached its budget while training", async () => {
    const s = await scenarios.start({ seed: 73 });
    const { jobId, instanceId } = await toTraining(s, { budgetUsd: 0.25 }, 600);
    expect(acted(await runReaper(s.deps))).toEqual({ training_checked: 1 });
    s.base.sim.admin.advance(3600);
    // Enforced from the table and the list alone: no SSH needed to stop spending.
    expect(acted(await runReaper(s.deps))).toEqual({ limit_ended: 1 });
    const job = await s.store.getJob(jobId);
    expect(job?.state).toBe("failed");
    expect(job?.reason).toMatch(/^Stopped: the job reached its budget of \$0\.25/);
    expect(destroyed(s, instanceId)).toBe(true);
    await expectInvariantsHold(s.base);
  });

  it("destroys an outbid (stopped) instance of a training job and moves the job on to another GPU", async () => {
    const s = await scenarios.start({ seed: 74 });
    const { jobId, instanceId } = await toTraining(s, {}, 600);
    await s.base.sim.admin.addFault({ kind: "outbid", instanceId });
    const summary = await runReaper(s.deps);
    expect(acted(summary)).toEqual({ unwanted_state_ended: 1 });
    expect(destroyed(s, instanceId)).toBe(true);
    const job = await s.store.getJob(jobId);
    expect(job).toMatchObject({ state: "provisioning", attempt: 1 });
    expect(await s.store.getAttempt(jobId, 1)).toMatchObject({ outcome: "failed" });
    expect((await s.store.getAttempt(jobId, 1))?.failureReason).toMatch(/the instance was stopped/);
    // The next attempt rents another machine.
    const next = await s.base.run(jobId, (j) => j.state === "pushing");
    expect(next.attempt).toBe(2);
    await expectInvariantsHold(s.base);
  });

  it("destroys a create that completed after its attempt gave up on it, and charges it to the job", async () => {
    const s = await scenarios.start({ seed: 75 });
    // Vast answers the create with a gateway timeout and creates the instance 400 s later,
    // after the 180 s look-up window: by then the job has rented another offer.
    await s.base.sim.admin.addFault({ kind: "late_create", status: 504, delaySeconds: 400, times: 1 });
    const jobId = await s.base.submit();
    await s.base.pump();
    expect(await s.store.getAttempt(jobId, 1)).toMatchObject({ outcome: "unresolved" });
    const booting = await s.base.run(jobId, (j) => j.state === "booting", { advanceSeconds: 30 });
    expect(booting.attempt).toBe(2);
    expect(await s.store.getAttempt(jobId, 1)).toMatchObject({ outcome: "not_rented" });
    s.base.sim.admin.advance(400);
    const late = s.base.sim.admin.instances().find((i) => i.label === `vast-rental:${jobId}:1`);
    if (!late) throw new Error("the late instance never appeared");
    expect(late.destroyedAtMs).toBeNull();

    const before = (await s.store.getJob(jobId))?.spentUsd ?? 0;
    expect(acted(await runReaper(s.deps))).toMatchObject({ stray_destroyed: 1 });
    expect(destroyed(s, late.id)).toBe(true);
    const after = await s.store.getJob(jobId);
    const billed = (s.base.sim.admin.instance(late.id)?.ledger.totalMicros ?? 0) / 1e6;
    expect((after?.spentUsd ?? 0) - before).toBeGreaterThan(0);
    // Charged with the attempt's rates from its create call: at least what Vast billed, not far above.
    expect((after?.spentUsd ?? 0) - before).toBeGreaterThanOrEqual(billed - 1e-6);
    expect((after?.spentUsd ?? 0) - before).toBeLessThan(billed * 2 + 0.001);
    // A second run finds nothing left to do for it, and charges nothing twice.
    await runReaper(s.deps);
    expect((await s.store.getJob(jobId))?.spentUsd).toBe(after?.spentUsd);
    // The job itself carries on with attempt 2.
    expect(await s.store.getJob(jobId)).toMatchObject({ attempt: 2 });
  });

  it("verifies destroys: one Vast accepted but ignored is destroyed again, then marked done", async () => {
    const s = await scenarios.start({ seed: 76 });
    const { jobId, instanceId } = await toTraining(s, {}, 600);
    await s.base.sim.admin.addFault({ kind: "destroy_ignored", instanceId, times: 1 });
    const cancelled = await cancelJob(s.deps, jobId, "the user changed their mind");
    expect(cancelled.state).toBe("cancelled");
    // Vast said yes but kept it: the attempt waits for the reaper's verification.
    expect(destroyed(s, instanceId)).toBe(false);
    expect(await s.store.listUnverifiedDestroys()).toEqual([
      expect.objectContaining({ jobId, attempt: 1, instanceId }),
    ]);
    s.base.sim.admin.advance(60);
    expect(acted(await runReaper(s.deps))).toEqual({ destroy_retried: 1 });
    expect(destroyed(s, instanceId)).toBe(true);
    s.base.sim.admin.advance(60);
    expect(acted(await runReaper(s.deps))).toEqual({ destroy_verified: 1 });
    expect(await s.store.listUnverifiedDestroys()).toEqual([]);
    expect(await s.store.getAttempt(jobId, 1)).toMatchObject({ destroyVerifiedAt: expect.any(Number) });
    await expectInvariantsHold(s.base);
  });

  it("runs as the poller Lambda, saying what started it", async () => {
    const s = await scenarios.start({ seed: 70 });
    const poller = createPollerHandler(s.deps);
    expect(await poller({ trigger: "vast-webhook" })).toMatchObject({
      skipped: false,
      trigger: "vast-webhook",
      pages: 1,
    });
    expect(await poller()).toMatchObject({ trigger: "schedule" });
  });

  it("two overlapping runs act once", async () => {
    const s = await scenarios.start({ seed: 77 });
    const orphans: number[] = [];
    for (const n of [1, 2, 3]) orphans.push(await rentDirectly(s, `vast-rental:job_gone_${n}:1`));
    await runReaper(s.deps);
    s.base.sim.admin.advance(601);
    s.base.sim.admin.resetRequestCounts();
    const [a, b] = await Promise.all([runReaper(s.deps), runReaper(s.deps)]);
    expect([a.skipped, b.skipped].sort()).toEqual([false, true]);
    expect(a.actions.orphan_destroyed + b.actions.orphan_destroyed).toBe(3);
    expect(s.base.sim.admin.requestCounts().byEndpoint.destroy).toBe(3);
    for (const id of orphans) expect(destroyed(s, id)).toBe(true);
  });

  it("hands a lost step its message again, and ends a boot the readiness chain lost track of", async () => {
    const s = await scenarios.start({ seed: 78 });
    // A job whose provision message was lost: the queue is emptied behind its back.
    const lost = await s.base.submit();
    await s.base.drainProvisionQueue();
    // A job booting on an instance that never finishes loading, its readiness messages lost.
    await s.base.sim.admin.addFault({ kind: "stuck_loading" });
    const stuck = await s.base.submit();
    await s.base.pump();
    await s.base.drainProvisionQueue();
    expect(await s.store.getJob(stuck)).toMatchObject({ state: "booting" });
    const stuckInstance = (await s.store.getAttempt(stuck, 1))?.instanceId as number;

    s.base.sim.admin.advance(6 * 60);
    expect(acted(await runReaper(s.deps))).toEqual({ requeued_provision: 1, requeued_readiness: 1 });
    await s.base.pump();
    expect((await s.store.getJob(lost))?.state).toBe("booting");
    // Boot timeout (15 min) plus the reaper's slack, with readiness silent again.
    await s.base.drainProvisionQueue();
    s.base.sim.admin.advance(12 * 60);
    const summary = await runReaper(s.deps);
    expect(summary.actions.boot_timeout_ended).toBe(1);
    expect(destroyed(s, stuckInstance)).toBe(true);
    expect(await s.store.getJob(stuck)).toMatchObject({ state: "provisioning" });
    expect((await s.store.getAttempt(stuck, 1))?.failureReason).toMatch(/did not become ready within 15 min/);
  });

  it("ends a push that never finished, once no push holds the job", async () => {
    const s = await scenarios.start({ seed: 79 });
    const { jobId, instanceId } = await s.jobToPushing();
    // The push message is lost for good; an hour later the reaper gives up on the push.
    s.base.sim.admin.advance(5 * 60 + 1);
    expect(acted(await runReaper(s.deps))).toEqual({ requeued_push: 1 });
    s.base.sim.admin.advance(60 * 60);
    expect(acted(await runReaper(s.deps))).toEqual({ push_timeout_ended: 1 });
    const job = await s.store.getJob(jobId);
    expect(job?.state).toBe("failed");
    expect(job?.reason).toBe("The dataset push did not finish within 60 minutes.");
    expect(destroyed(s, instanceId)).toBe(true);
    await expectInvariantsHold(s.base);
  });

  it("one run over 100 live instances makes at most ceil(100/25) + 2 Vast calls", async () => {
    const s = await scenarios.start({ seed: 80, sim: { ssh: false } });
    const jobs: string[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const offers = freeOffers(s).slice(0, 10);
      jobs.push(...(await Promise.all(offers.map((offer) => seedBooting(s, offer.id)))));
    }
    s.base.sim.admin.resetRequestCounts();
    const summary = await runReaper(s.deps);
    const calls = s.base.sim.admin.requestCounts();
    expect(calls.total).toBeLessThanOrEqual(Math.ceil(100 / 25) + 2);
    expect(calls.byEndpoint).toEqual({ list: 4 });
    expect(summary).toMatchObject({
      instancesSeen: 100,
      ours: 100,
      pages: 4,
      vastCalls: 4,
      jobsSeen: 100,
      errors: 0,
    });
    expect(acted(summary)).toEqual({});
    expect((await s.store.getJobs(jobs)).every((j) => j.state === "booting")).toBe(true);
  });
});

/** A job seeded straight into `booting` on an instance rented for it, its readiness chain alive. */
async function seedBooting(s: PushScenario, offerId: number): Promise<string> {
  const jobId = await s.base.submit();
  let job = await s.store.transition(jobId, 0, { type: "provision_started", reason: "seeded" });
  const label = `vast-rental:${jobId}:1`;
  job = await s.store.recordAttemptStarted(jobId, job.version, {
    attempt: 1,
    offerId: 1,
    machineId: null,
    hourlyUsd: 0.4,
    gpuName: "RTX 4090",
    label,
  });
  await s.store.recordInstanceId(jobId, 1, await rentDirectly(s, label, offerId));
  await s.store.transition(jobId, job.version, { type: "instance_created", reason: "seeded" });
  await s.store.claimReadinessCheck(jobId, 1, 0, "seeded", s.base.sim.admin.now());
  return jobId;
}
