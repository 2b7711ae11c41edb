/**
 * An operator terminating a live job's instance (`DELETE /v1/instances/{id}`, or EventBridge's
 * `Instance Terminate Requested`) from every state where a job holds one, over the real system
 * (DynamoDB Local, fauxqs, the simulator): the instance is destroyed, the attempt ended and charged
 * once, and the job takes a well-defined next step — another GPU while the run can still be
 * redone (`booting`, `pushing`, `training`), `failed` with a readable reason once the run finished
 * and only its LoRA was left to collect (`collecting`: a finished run cannot move to another GPU).
 * The reaper and the completion check then finish the job; they never replay the ended attempt's
 * ending forever.
 */
import { describe, expect, it } from "vitest";
import { type ApiCredentials, createApiApp } from "../../packages/core/src/api";
import {
  type CommandDeps,
  checkJobTraining,
  handleCommandEvent,
  type JobState,
  runReaper,
} from "../../packages/core/src/jobs";
import { driveTo } from "../support/drive-to";
import { expectInvariantsHold, useScenarios } from "../support/provision-harness";
import type { PushScenario } from "../support/push-harness";
import { startPushScenario } from "../support/push-harness";

const scenarios = useScenarios(startPushScenario);

const CREDENTIALS: ApiCredentials = {
  apiKeys: { ops: "ops-key-integration-0123456789" },
  submissionSecrets: {},
  vastWebhookSecret: null,
};
const auth = { authorization: `Bearer ${CREDENTIALS.apiKeys.ops}` };

const destroyed = (s: PushScenario, id: number) => s.base.sim.admin.instance(id)?.destroyedAtMs !== null;

/** A DELETE through the API, as an operator would, 20 s on (the disk bills from the create). */
async function terminateThroughApi(s: PushScenario, jobId: string): Promise<number> {
  s.base.sim.admin.advance(20);
  const instanceId = (await s.store.getAttempt(jobId, 1))?.instanceId as number;
  expect(instanceId).toEqual(expect.any(Number));
  const app = createApiApp({ ...s.deps, credentials: () => CREDENTIALS });
  const response = await app.request(`/v1/instances/${instanceId}`, { method: "DELETE", headers: auth });
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual({ instanceId, held: "attempt", jobId });
  return instanceId;
}

/** The attempt ended, failed, its instance destroyed, and charged exactly once to the job. */
async function expectEndedAndChargedOnce(s: PushScenario, jobId: string, instanceId: number) {
  expect(destroyed(s, instanceId)).toBe(true);
  const attempt = await s.store.getAttempt(jobId, 1);
  expect(attempt).toMatchObject({ instanceId, outcome: "failed" });
  expect(attempt?.endedAt).not.toBeNull();
  const cost = attempt?.cost;
  expect(cost).toBeDefined();
  const attemptUsd = (cost?.gpuUsd ?? 0) + (cost?.storageUsd ?? 0) + (cost?.bandwidthUsd ?? 0);
  expect(attemptUsd).toBeGreaterThan(0);
  const job = await s.store.getJob(jobId);
  expect(job?.spentUsd).toBeCloseTo(attemptUsd, 10);
  return attemptUsd;
}

/** The reaper's runs over the next `minutes` (one a minute), the steps' queues drained in between. */
async function reaperRunsFor(s: PushScenario, minutes: number) {
  for (let minute = 0; minute < minutes; minute++) {
    await runReaper(s.deps);
    s.base.sim.admin.advance(60);
  }
}

describe("an operator terminating a live job's instance", () => {
  it.each<JobState>(["booting", "pushing", "training"])(
    "from %s: the attempt ends and charged once, and the job moves on to another GPU",
    async (state) => {
      const s = await scenarios.start({ seed: 121 });
      const jobId = await driveTo(s, state);
      expect((await s.store.getJob(jobId))?.state).toBe(state);
      const instanceId = await terminateThroughApi(s, jobId);
      expect(await s.store.getJob(jobId)).toMatchObject({ state: "provisioning", attempt: 1 });
      const charged = await expectEndedAndChargedOnce(s, jobId, instanceId);
      const firstCost = (await s.store.getAttempt(jobId, 1))?.cost;

      // The provision message the ending sent rents the next GPU.
      await s.base.run(jobId, (j) => j.attempt === 2 && j.state === "booting");
      const second = (await s.store.getAttempt(jobId, 2))?.instanceId as number;
      expect(second).not.toBe(instanceId);
      expect(destroyed(s, second)).toBe(false);
      // The first attempt stays charged once, whatever runs after it.
      await reaperRunsFor(s, 6);
      expect((await s.store.getAttempt(jobId, 1))?.cost).toEqual(firstCost);
      const job = await s.store.getJob(jobId);
      expect(job?.attempt).toBe(2);
      expect(job?.spentUsd).toBeCloseTo(charged, 10);
      await expectInvariantsHold(s.base);
    },
  );

  it("from collecting (LoRA not stored): the job fails with a reason saying why, once the reaper finds it", async () => {
    const s = await scenarios.start({ seed: 122 });
    const jobId = await driveTo(s, "collecting");
    const instanceId = await terminateThroughApi(s, jobId);
    const charged = await expectEndedAndChargedOnce(s, jobId, instanceId);

    // The reaper's runs over the next few minutes (past its patience for an ending in progress).
    await reaperRunsFor(s, 7);
    const job = await s.store.getJob(jobId);
    expect(job?.state).toBe("failed");
    expect(job?.reason).toBe(
      'Attempt 1 ended while its LoRA was being collected (terminated through the API (API key "ops")); ' +
        "its instance is destroyed, so the finished run can no longer be collected.",
    );
    expect(job?.spentUsd).toBeCloseTo(charged, 10);
    expect(job?.costUsd).toBeCloseTo(charged, 10);
    expect(await s.store.listAttempts(jobId)).toHaveLength(1);
    expect(s.events.of("Job Failed")).toEqual([
      expect.objectContaining({ jobId, reason: job?.reason, costUsd: job?.costUsd }),
    ]);
    await expectInvariantsHold(s.base);
  });

  it("from collecting with the LoRA's ending already claimed: answered `ending`, and the terminate changes nothing", async () => {
    const s = await scenarios.start({ seed: 124 });
    const jobId = await driveTo(s, "collecting");
    const instanceId = (await s.store.getAttempt(jobId, 1))?.instanceId as number;
    // The completion check has stored the LoRA and claimed the ending, then stopped (a crash).
    await s.store.requestAttemptEnd(
      jobId,
      1,
      { next: "continue", event: "artifact_collected", reason: "LoRA stored", hostFailure: false },
      Date.now(),
    );
    const app = createApiApp({ ...s.deps, credentials: () => CREDENTIALS });
    const response = await app.request(`/v1/instances/${instanceId}`, { method: "DELETE", headers: auth });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ instanceId, held: "ending", jobId });
    // The terminate changed nothing: the attempt is not ended or charged as failed by it.
    expect(await s.store.getAttempt(jobId, 1)).toMatchObject({ endedAt: null, destroyedAt: null });
    expect(destroyed(s, instanceId)).toBe(false);
    await expectInvariantsHold(s.base);
  });

  it("from collecting, through EventBridge: the next completion check fails the job", async () => {
    const s = await scenarios.start({ seed: 123 });
    const jobId = await driveTo(s, "collecting");
    const instanceId = (await s.store.getAttempt(jobId, 1))?.instanceId as number;
    const deps: CommandDeps = { ...s.deps, deadLetters: { put: async () => {} } };
    const event = {
      version: "0",
      id: "evt-terminate-collecting",
      "detail-type": "Instance Terminate Requested",
      source: "orders.service",
      account: "000000000000",
      time: new Date().toISOString(),
      region: "us-east-1",
      resources: [],
      detail: { instanceId, reason: "the host is being drained" },
    };
    s.base.sim.admin.advance(20);
    expect(await handleCommandEvent(deps, event)).toEqual({ applied: "instance_terminated", instanceId });
    const charged = await expectEndedAndChargedOnce(s, jobId, instanceId);

    expect(await checkJobTraining(s.deps, jobId)).toMatchObject({ action: "failed", state: "failed" });
    const job = await s.store.getJob(jobId);
    expect(job).toMatchObject({
      state: "failed",
      reason:
        "Attempt 1 ended while its LoRA was being collected (the host is being drained); " +
        "its instance is destroyed, so the finished run can no longer be collected.",
    });
    expect(job?.spentUsd).toBeCloseTo(charged, 10);
    // Nothing is left to do: the next check and the reaper leave the job as it ended.
    expect(await checkJobTraining(s.deps, jobId)).toMatchObject({ action: "skipped" });
    await reaperRunsFor(s, 6);
    expect((await s.store.getJob(jobId))?.spentUsd).toBeCloseTo(charged, 10);
    await expectInvariantsHold(s.base);
  });
});
