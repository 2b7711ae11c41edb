/**
 * A job's cost against Vast's bill: a job runs through the real handlers on a simulator
 * instance, trains for a short and a long stretch of simulated time, is collected and destroyed,
 * and the cost on the job must be within 2 % of the simulator's ledger for that instance — the
 * GPU while running, the disk from create to destroy, the bytes pushed — part by part.
 */
import { describe, expect, it } from "vitest";
import { cancelJob, checkJobTraining } from "../../packages/core/src/jobs";
import { expectInvariantsHold, startScenario, useScenarios } from "../support/provision-harness";
import { startPushScenario, untilJob, untilTrainingExited } from "../support/push-harness";

const scenarios = useScenarios(startPushScenario);

describe("the job's cost matches the simulator's ledger", () => {
  it.each([
    { label: "20-second", trainingSeconds: 20, seed: 61 },
    { label: "30-minute", trainingSeconds: 1800, seed: 62 },
  ])("a $label job costs within 2 % of what Vast billed, part by part", async ({ trainingSeconds, seed }) => {
    const s = await scenarios.start({ seed });
    // The stand-in finishes in real time at once; simulated time is what the bill counts.
    const { jobId, instanceId } = await s.jobToPushing({}, { durationSeconds: 0.2 });
    expect(await s.pumpPush()).toEqual({ received: 1, failed: 0 });
    await untilTrainingExited(s, instanceId, jobId);
    s.base.sim.admin.advance(trainingSeconds);
    const job = await untilJob(
      s.store,
      jobId,
      () => checkJobTraining(s.deps, jobId),
      (j) => j.state === "succeeded",
    );

    const ledger = s.base.sim.admin.ledger().instances.find((l) => l.instanceId === instanceId);
    if (!ledger) throw new Error(`no ledger for instance ${instanceId}`);
    expect(ledger.runningSeconds).toBeGreaterThanOrEqual(trainingSeconds);
    const billed = ledger.totalMicros / 1e6;
    const cost = job.costUsd ?? Number.NaN;
    expect(Math.abs(cost - billed) / billed).toBeLessThan(0.02);
    expect(job.costBreakdown.gpuUsd).toBeCloseTo(ledger.gpuMicros / 1e6, 5);
    expect(job.costBreakdown.storageUsd).toBeCloseTo(ledger.storageMicros / 1e6, 5);
    // Bytes pushed are the payload; the ledger counts SSH bytes: both far below a cent here.
    expect(job.costBreakdown.bandwidthUsd).toBeLessThan(0.001);
    expect(cost).toBeCloseTo(
      job.costBreakdown.gpuUsd + job.costBreakdown.storageUsd + job.costBreakdown.bandwidthUsd,
      9,
    );
    await expectInvariantsHold(s.base);
  });
});

const provisionScenarios = useScenarios(startScenario);

describe("an attempt ended before readiness saw its instance running", () => {
  it("is charged the GPU Vast billed since its start date, not its disk alone", async () => {
    const s = await provisionScenarios.start({ seed: 63 });
    const jobId = await s.submit();
    await s.pump();
    const rented = await s.store.getAttempt(jobId, 1);
    expect(rented?.instanceId).toEqual(expect.any(Number));
    // Running for a while (provisioning 5 s, loading 20 s), before any readiness check ran.
    s.sim.admin.advance(25 + 600);
    expect((await s.store.getAttempt(jobId, 1))?.runningSince).toBeNull();
    const cancelled = await cancelJob(s.deps, jobId, "withdrawn while it booted");
    const ledger = s.sim.admin.ledger().instances.find((l) => l.instanceId === rented?.instanceId);
    if (!ledger) throw new Error("no ledger for the instance");
    expect(ledger.runningSeconds).toBeGreaterThanOrEqual(600);
    const billed = ledger.totalMicros / 1e6;
    expect(cancelled.costBreakdown.gpuUsd).toBeCloseTo(ledger.gpuMicros / 1e6, 5);
    expect(Math.abs((cancelled.costUsd ?? 0) - billed) / billed).toBeLessThan(0.02);
    await expectInvariantsHold(s);
  });
});

describe("a destroy Vast accepted just before a crash kept it from being recorded", () => {
  it("is priced to when the ending began, not to when the step was redone", async () => {
    const s = await provisionScenarios.start({ seed: 64 });
    const jobId = await s.submit();
    await s.pump();
    const instanceId = (await s.store.getAttempt(jobId, 1))?.instanceId as number;
    s.sim.admin.advance(25 + 300);
    // The process dies right after Vast accepted the destroy: nothing after it runs.
    const crashing = {
      ...s.deps.vast,
      terminateInstance: async (id: number) => {
        await s.deps.vast.terminateInstance(id);
        throw new Error("simulated crash after the destroy");
      },
    };
    await expect(cancelJob({ ...s.deps, vast: crashing }, jobId, "withdrawn")).rejects.toThrow(
      /simulated crash/,
    );
    expect(s.sim.admin.instance(instanceId)?.destroyedAtMs).not.toBeNull();
    // Recovered ten minutes later (a lease lapsing, a message coming back).
    s.sim.admin.advance(600);
    const cancelled = await cancelJob(s.deps, jobId, "withdrawn");
    const ledger = s.sim.admin.ledger().instances.find((l) => l.instanceId === instanceId);
    if (!ledger) throw new Error("no ledger for the instance");
    const billed = ledger.totalMicros / 1e6;
    expect(cancelled.state).toBe("cancelled");
    expect(Math.abs((cancelled.costUsd ?? 0) - billed) / billed).toBeLessThan(0.02);
    await expectInvariantsHold(s);
  });
});

type ProvisionScenario = Awaited<ReturnType<typeof startScenario>>;

/**
 * A rented job, 325 s on, cancelled by a step that dies right after its destroy left (`waitSeconds`
 * at the rate limiter first): Vast destroyed the instance, and nothing recorded the answer.
 */
async function cancelledByACrashedStep(
  s: ProvisionScenario,
  waitSeconds = 0,
): Promise<{ jobId: string; instanceId: number }> {
  const jobId = await s.submit();
  await s.pump();
  const instanceId = (await s.store.getAttempt(jobId, 1))?.instanceId as number;
  s.sim.admin.advance(25 + 300);
  const crashing: typeof s.deps.vast = {
    ...s.deps.vast,
    terminateInstance: async (id, options) => {
      s.sim.admin.advance(waitSeconds);
      await s.deps.vast.terminateInstance(id, options);
      throw new Error("simulated crash after the destroy");
    },
  };
  await expect(cancelJob({ ...s.deps, vast: crashing }, jobId, "withdrawn")).rejects.toThrow(
    /simulated crash/,
  );
  return { jobId, instanceId };
}

describe("a destroy is priced to when its request left", () => {
  it("after a crash lost its answer: to the request's send time, written before it left (here after a 2-minute wait for the rate limiter), not to when the ending began", async () => {
    const s = await provisionScenarios.start({ seed: 65 });
    // The request waits its turn at the rate limiter for 2 minutes, then leaves.
    const { jobId, instanceId } = await cancelledByACrashedStep(s, 120);
    expect((await s.store.getAttempt(jobId, 1))?.destroySentAt).toEqual(expect.any(Number));
    s.sim.admin.advance(600);
    const cancelled = await cancelJob(s.deps, jobId, "withdrawn");
    const ledger = s.sim.admin.ledger().instances.find((l) => l.instanceId === instanceId);
    if (!ledger) throw new Error("no ledger for the instance");
    expect(cancelled.costBreakdown.gpuUsd).toBeCloseTo(ledger.gpuMicros / 1e6, 5);
    expect(
      Math.abs((cancelled.costUsd ?? 0) - ledger.totalMicros / 1e6) / (ledger.totalMicros / 1e6),
    ).toBeLessThan(0.02);
    await expectInvariantsHold(s);
  });

  it("after a crash lost its answer, and the retry's first try failed: still to the crashed request's send time", async () => {
    // Found by the chaos run: the retry's first try got a 5xx, its second "already gone", and the
    // destroy was priced to the retry's first try, 34 s after Vast had acted.
    const s = await provisionScenarios.start({ seed: 67 });
    const { jobId, instanceId } = await cancelledByACrashedStep(s);
    s.sim.admin.advance(600);
    await s.sim.admin.addFault({ kind: "http_error", endpoint: "destroy", status: 503, times: 1 });
    const cancelled = await cancelJob(s.deps, jobId, "withdrawn");
    expect(s.sim.admin.faultCounts().http_5xx).toBe(1);
    const ledger = s.sim.admin.ledger().instances.find((l) => l.instanceId === instanceId);
    if (!ledger) throw new Error("no ledger for the instance");
    expect(cancelled.costBreakdown.gpuUsd).toBeCloseTo(ledger.gpuMicros / 1e6, 5);
    await expectInvariantsHold(s);
  });

  it("when its answer arrives late: to when it left, not to when the answer came", async () => {
    const s = await provisionScenarios.start({ seed: 66 });
    const jobId = await s.submit();
    await s.pump();
    const instanceId = (await s.store.getAttempt(jobId, 1))?.instanceId as number;
    s.sim.admin.advance(25 + 300);
    const slowAnswer: typeof s.deps.vast = {
      ...s.deps.vast,
      terminateInstance: async (id, options) => {
        const answer = await s.deps.vast.terminateInstance(id, options);
        // Vast acted at once; its answer reached a busy function a minute later.
        s.sim.admin.advance(60);
        return answer;
      },
    };
    const cancelled = await cancelJob({ ...s.deps, vast: slowAnswer }, jobId, "withdrawn");
    const ledger = s.sim.admin.ledger().instances.find((l) => l.instanceId === instanceId);
    if (!ledger) throw new Error("no ledger for the instance");
    expect(cancelled.costBreakdown.gpuUsd).toBeCloseTo(ledger.gpuMicros / 1e6, 5);
    await expectInvariantsHold(s);
  });
});
