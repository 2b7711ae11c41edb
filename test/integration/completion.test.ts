/**
 * The completion check end to end on simulator instances: a job is provisioned, pushed and
 * launched by the real handlers, the simulator's training stand-in runs (real seconds), and
 * `checkJobTraining` harvests or fails it. The simulator's ledger and admin view confirm the
 * money side: the instance is destroyed and the job's cost matches what Vast would bill.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CancelTooLateError,
  type CompletionResult,
  cancelJob,
  checkJobTraining,
  runReaper,
} from "../../packages/core/src/jobs";
import { writeDataset } from "../../packages/core/test/dataset/fixtures";
import { RecordingCallbacks } from "../support/callbacks";
import { ARTIFACT_BUCKET, DATASET_BUCKET, uploadDataset } from "../support/datasets";
import { expectInvariantsHold, useScenarios } from "../support/provision-harness";
import {
  type PushScenario,
  startPushScenario,
  storeWith,
  untilJob,
  untilTrainingExited,
} from "../support/push-harness";
import { statesVisited } from "../support/timeline";

const scenarios = useScenarios(startPushScenario);
let local: string;

beforeAll(async () => {
  local = await mkdtemp(join(tmpdir(), "completion-it-"));
  await writeDataset(local, { pairs: 6, seed: 5 });
  await uploadDataset(scenarios.infra, "tiny/", local);
});
afterAll(async () => {
  await rm(local, { recursive: true, force: true });
});

const dataset = { dataset: { kind: "s3" as const, bucket: DATASET_BUCKET, prefix: "tiny/" } };
/** A run that ends on its own soon: the stand-in runs in real time while the simulator's clock stands still. */
const SHORT_RUN_SECONDS = 0.2;
const CALLBACK = "https://hooks.example.test/jobs/done?token=abc";

/** Delivers the callbacks queued so far (they wait on the provision queue for its consumer). */
async function deliverCallbacks(s: PushScenario): Promise<void> {
  while ((await s.base.pump()).received > 0) {}
}

/**
 * The completion check with a cancel slipped in right after one of its store writes (`after`); the
 * cancel reads the timeline as it was before the LoRA's note (it looked before the note was
 * written). Returns the check's result and what the cancel returned or threw.
 */
async function completionWithCancelAfter(
  s: PushScenario,
  jobId: string,
  after: "requestAttemptEnd" | "endAttempt",
  reason: string,
): Promise<{ result: CompletionResult; cancelled: unknown }> {
  const staleReads = storeWith(s.store, {
    getTimeline: async (real, id) =>
      (await real.getTimeline(id)).filter((entry) => entry.details.kind !== "artifact"),
  });
  let cancel: Promise<unknown> | null = null;
  const slipIn = async <T>(write: Promise<T>): Promise<T> => {
    const written = await write;
    cancel ??= cancelJob({ ...s.deps, store: staleReads }, jobId, reason).catch((error: unknown) => error);
    await cancel;
    return written;
  };
  const store = storeWith(
    s.store,
    after === "requestAttemptEnd"
      ? { requestAttemptEnd: (real, ...args) => slipIn(real.requestAttemptEnd(...args)) }
      : { endAttempt: (real, ...args) => slipIn(real.endAttempt(...args)) },
  );
  const result = await checkJobTraining({ ...s.deps, store }, jobId);
  return { result, cancelled: await cancel };
}

async function toTraining(
  s: PushScenario,
  training: { durationSeconds?: number; fail?: boolean; failMessage?: string } = {},
  overrides: Record<string, unknown> = {},
) {
  const ids = await s.jobToPushing({ ...dataset, ...overrides }, training);
  expect(await s.pumpPush()).toEqual({ received: 1, failed: 0 });
  expect((await s.store.getJob(ids.jobId))?.state).toBe("training");
  return ids;
}

describe("completion check on simulator instances", () => {
  it("harvests a successful run: artifact in S3 with its sha256, instance destroyed, cost matching the ledger", async () => {
    const callbacks = new RecordingCallbacks();
    const s = await scenarios.start({ seed: 31, callbacks });
    const { jobId, instanceId } = await toTraining(
      s,
      { durationSeconds: SHORT_RUN_SECONDS },
      { callbackUrl: CALLBACK },
    );
    // Half an hour of simulated renting, so the bill is worth comparing.
    s.base.sim.admin.advance(1800);

    const results: CompletionResult[] = [];
    const job = await untilJob(
      s.store,
      jobId,
      async () => results.push(await checkJobTraining(s.deps, jobId)),
      (j) => j.state !== "training",
    );
    expect(job.state).toBe("succeeded");
    const last = results.at(-1);
    expect(last).toMatchObject({ action: "succeeded", artifact: { bucket: ARTIFACT_BUCKET } });
    const artifact = last?.artifact;
    expect(artifact?.key).toBe(`artifacts/${jobId}/${jobId}.safetensors`);

    const object = await s.s3.send(new GetObjectCommand({ Bucket: ARTIFACT_BUCKET, Key: artifact?.key }));
    const body = Buffer.from(await object.Body!.transformToByteArray());
    expect(body.length).toBe(artifact?.bytes);
    expect(createHash("sha256").update(body).digest("hex")).toBe(artifact?.sha256);
    expect(body.subarray(8).toString("utf8")).toContain('"__metadata__"');

    const inst = s.base.sim.admin.instance(instanceId);
    expect(inst?.destroyedAtMs).not.toBeNull();
    const ledger = s.base.sim.admin.ledger().instances.find((l) => l.instanceId === instanceId);
    const billedUsd = (ledger?.totalMicros ?? 0) / 1e6;
    expect(billedUsd).toBeGreaterThan(0.05);
    // Priced as Vast bills (GPU while running, disk from create, bytes pushed): within 2 % of its bill.
    expect(Math.abs(job.spentUsd - billedUsd) / billedUsd).toBeLessThan(0.02);
    expect(job.costBreakdown.gpuUsd).toBeCloseTo((ledger?.gpuMicros ?? 0) / 1e6, 3);
    expect(job.costBreakdown.storageUsd).toBeCloseTo((ledger?.storageMicros ?? 0) / 1e6, 3);
    expect(last?.costUsd).toBe(job.spentUsd);
    expect(job.reason).toContain(`s3://${ARTIFACT_BUCKET}/${artifact?.key}`);
    expect(await s.store.getAttempt(jobId, 1)).toMatchObject({
      outcome: "succeeded",
      costUsd: job.spentUsd,
      endedAt: expect.any(Number),
    });
    // The result lives on the job record itself, written by the final transition.
    expect(job).toMatchObject({ costUsd: job.spentUsd, artifact, endedAt: expect.any(Number) });

    const timeline = await s.store.getTimeline(jobId);
    expect(await statesVisited(s.store, jobId)).toEqual([
      "queued",
      "provisioning",
      "booting",
      "pushing",
      "training",
      "collecting",
      "succeeded",
    ]);
    expect(timeline.at(-1)?.details).toMatchObject({ artifact, costUsd: job.spentUsd });
    const final = s.events.of("Job State Changed").at(-1);
    expect(final).toMatchObject({
      jobId,
      from: "collecting",
      to: "succeeded",
      spentUsd: job.spentUsd,
      costUsd: job.spentUsd,
      artifact,
    });
    await deliverCallbacks(s);
    expect(callbacks.sent.every((c) => c.url === CALLBACK)).toBe(true);
    expect(callbacks.of("Job Succeeded")).toEqual([
      {
        jobId,
        artifact,
        costUsd: job.spentUsd,
        costBreakdown: job.costBreakdown,
        timings: {
          submittedAt: job.createdAt,
          trainingStartedAt: expect.any(Number),
          endedAt: job.endedAt,
          totalSeconds: ((job.endedAt ?? 0) - job.createdAt) / 1000,
        },
      },
    ]);
    expect(s.events.of("Job Succeeded")).toEqual(callbacks.of("Job Succeeded"));

    // The poller coming back finds nothing to do, and tells nobody anything new.
    const told = callbacks.sent.length;
    expect(await checkJobTraining(s.deps, jobId)).toMatchObject({ action: "skipped", state: "succeeded" });
    await deliverCallbacks(s);
    expect(callbacks.sent).toHaveLength(told);
    await expectInvariantsHold(s.base);
  });

  it("a failed run ends the job with its exit code and last log line, keeps the log tail, destroys the instance", async () => {
    const callbacks = new RecordingCallbacks();
    const s = await scenarios.start({ seed: 32, callbacks });
    const { jobId, instanceId } = await toTraining(
      s,
      {
        durationSeconds: SHORT_RUN_SECONDS,
        fail: true,
        failMessage: "RuntimeError: CUDA error: device-side assert triggered",
      },
      { callbackUrl: CALLBACK },
    );
    const job = await untilJob(
      s.store,
      jobId,
      () => checkJobTraining(s.deps, jobId),
      (j) => j.state !== "training",
    );
    expect(job.state).toBe("failed");
    expect(job.reason).toBe(
      "training exited with code 1: RuntimeError: CUDA error: device-side assert triggered",
    );
    const diagnostics = (await s.store.getTimeline(jobId)).find((t) => t.kind === "diagnostics");
    expect(String(diagnostics?.details.logTail)).toMatch(/\| \d+\/\d+ \[[\s\S]*device-side assert/);
    expect(diagnostics?.details).toMatchObject({ exitCode: 1, attempt: 1 });
    expect(s.base.sim.admin.instance(instanceId)?.destroyedAtMs).not.toBeNull();
    expect(await s.store.getAttempt(jobId, 1)).toMatchObject({
      outcome: "failed",
      failureReason: job.reason,
    });
    expect(job.spentUsd).toBeGreaterThan(0);
    await deliverCallbacks(s);
    expect(callbacks.of("Job Failed")).toEqual([
      { jobId, reason: job.reason, costUsd: job.spentUsd, costBreakdown: job.costBreakdown },
    ]);
    expect(callbacks.of("Job Succeeded")).toEqual([]);
    await expectInvariantsHold(s.base);
  });

  it("a running check reads the training stand-in's tqdm progress and records it", async () => {
    const s = await scenarios.start({ seed: 37 });
    const { jobId } = await toTraining(s, { durationSeconds: 4 });
    let check: CompletionResult | undefined;
    for (let i = 0; i < 100 && !(check?.progress && check.progress.step > 0); i++) {
      check = await checkJobTraining(s.deps, jobId);
      expect(check).toMatchObject({ action: "running", state: "training" });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(check?.progress?.step).toBeGreaterThan(0);
    expect(check?.progress?.totalSteps).toBeGreaterThan(check?.progress?.step ?? 0);
    const notes = (await s.store.getTimeline(jobId)).filter((e) => e.details.kind === "progress");
    expect(notes.at(-1)?.reason).toMatch(/^training step [1-9]\d*\/\d+$/);
    await expectInvariantsHold(s.base);
  });

  it("a run past the job's maximum runtime is stopped and its instance destroyed", async () => {
    const s = await scenarios.start({ seed: 33 });
    const { jobId, instanceId } = await toTraining(s, { durationSeconds: 600 });
    const running = await checkJobTraining(s.deps, jobId);
    expect(running).toMatchObject({ action: "running", state: "training" });
    s.base.sim.admin.advance(241 * 60);
    const stopped = await checkJobTraining(s.deps, jobId);
    expect(stopped).toMatchObject({ action: "failed", state: "failed" });
    expect(stopped.reason).toMatch(/^Training stopped: the job exceeded its maximum runtime of 240 minutes/);
    expect(s.base.sim.admin.instance(instanceId)?.destroyedAtMs).not.toBeNull();
    await expectInvariantsHold(s.base);
  });

  it("concurrent checks harvest once; the sweep pages through every training job", async () => {
    const callbacks = new RecordingCallbacks();
    const s = await scenarios.start({ seed: 34, callbacks });
    const a = await toTraining(s, { durationSeconds: SHORT_RUN_SECONDS }, { callbackUrl: CALLBACK });
    const b = await toTraining(s, { durationSeconds: SHORT_RUN_SECONDS }, { callbackUrl: CALLBACK });
    // Both runs finish (the stand-in runs in real time on a frozen simulator).
    await Promise.all([a, b].map(({ jobId, instanceId }) => untilTrainingExited(s, instanceId, jobId)));

    const racing = await Promise.all([checkJobTraining(s.deps, a.jobId), checkJobTraining(s.deps, a.jobId)]);
    expect(racing.filter((r) => r.action === "succeeded")).toHaveLength(1);
    // The loser either found the lease taken or, if it came late, the job already finished.
    expect(racing.filter((r) => r.action === "busy" || r.action === "skipped")).toHaveLength(1);
    const transitions = (await s.store.getTimeline(a.jobId)).filter((t) => t.to === "succeeded");
    expect(transitions).toHaveLength(1);

    // The reaper's run finds the other finished job and collects it.
    const run = await runReaper(s.deps);
    expect(run.actions).toMatchObject({ training_checked: 1, training_succeeded: 1 });
    expect((await s.store.getJob(b.jobId))?.state).toBe("succeeded");
    await deliverCallbacks(s);
    expect(
      callbacks
        .of("Job Succeeded")
        .map((d) => d.jobId)
        .sort(),
    ).toEqual([a.jobId, b.jobId].sort());
    for (const { instanceId } of [a, b]) {
      expect(s.base.sim.admin.instance(instanceId)?.destroyedAtMs).not.toBeNull();
    }
    await expectInvariantsHold(s.base);
  });

  it("a crash after the artifact is stored resumes from collecting: no second upload, instance destroyed once", async () => {
    const s = await scenarios.start({ seed: 35 });
    const { jobId, instanceId } = await toTraining(s, { durationSeconds: SHORT_RUN_SECONDS });
    await untilTrainingExited(s, instanceId, jobId);
    let destroyCalls = 0;
    const crashingVast = {
      ...s.deps.vast,
      terminateInstance: async (id: number) => {
        destroyCalls++;
        if (destroyCalls === 1) throw new Error("simulated crash before destroy");
        return s.deps.vast.terminateInstance(id);
      },
    };
    const deps = { ...s.deps, vast: crashingVast };
    await expect(checkJobTraining(deps, jobId)).rejects.toThrow(/simulated crash/);
    expect((await s.store.getJob(jobId))?.state).toBe("collecting");
    expect(s.base.sim.admin.instance(instanceId)?.destroyedAtMs).toBeNull();

    // The next poll finds the stored artifact and finishes without opening SSH.
    const noSsh = { ...deps, ssh: async () => Promise.reject(new Error("SSH must not be needed")) };
    const result = await checkJobTraining(noSsh, jobId);
    expect(result).toMatchObject({ action: "succeeded", state: "succeeded" });
    expect(destroyCalls).toBe(2);
    expect(s.base.sim.admin.instance(instanceId)?.destroyedAtMs).not.toBeNull();
    const notes = (await s.store.getTimeline(jobId)).filter((t) => t.details.kind === "artifact");
    expect(notes).toHaveLength(1);
    expect(result.artifact?.sha256).toBe(notes[0]?.details.sha256);
    await expectInvariantsHold(s.base);
  });

  it("a cancel after the LoRA is stored is too late: the job ends succeeded, its run not recorded as failed", async () => {
    // Found by the chaos run: a cancel between the stored LoRA and the job's end won, so the job
    // read cancelled with a result in S3 and its successful attempt recorded as failed.
    const s = await scenarios.start({ seed: 38 });
    const { jobId, instanceId } = await toTraining(s, { durationSeconds: SHORT_RUN_SECONDS });
    await untilTrainingExited(s, instanceId, jobId);
    // Stored, then a crash before the destroy: the job stays collecting with its LoRA recorded.
    const crashingVast = {
      ...s.deps.vast,
      terminateInstance: async () => Promise.reject(new Error("simulated crash before destroy")),
    };
    await expect(checkJobTraining({ ...s.deps, vast: crashingVast }, jobId)).rejects.toThrow(
      /simulated crash/,
    );
    expect((await s.store.getJob(jobId))?.state).toBe("collecting");

    await expect(cancelJob(s.deps, jobId, "too late")).rejects.toBeInstanceOf(CancelTooLateError);
    expect((await s.store.getJob(jobId))?.state).toBe("collecting");
    const result = await checkJobTraining(s.deps, jobId);
    expect(result).toMatchObject({ action: "succeeded", state: "succeeded" });
    expect(await s.store.getAttempt(jobId, 1)).toMatchObject({ outcome: "succeeded" });
    expect(s.base.sim.admin.instance(instanceId)?.destroyedAtMs).not.toBeNull();
    await expectInvariantsHold(s.base);
  });

  it("a cancel while the LoRA uploads wins: the job ends cancelled and no LoRA is recorded as its result", async () => {
    const s = await scenarios.start({ seed: 39 });
    const { jobId, instanceId } = await toTraining(s, { durationSeconds: SHORT_RUN_SECONDS });
    await untilTrainingExited(s, instanceId, jobId);
    // The cancel lands between the upload's last call (its verification) and what comes after it.
    let cancelled: Promise<unknown> | null = null;
    const s3 = new Proxy(s.deps.s3, {
      get(target, property, receiver) {
        if (property !== "send") return Reflect.get(target, property, receiver);
        return async (command: { constructor: { name: string } }) => {
          const out = await (target.send as (c: unknown) => Promise<unknown>)(command);
          if (command.constructor.name === "HeadObjectCommand" && !cancelled) {
            cancelled = cancelJob(s.deps, jobId, "cancelled during the upload");
            await cancelled;
          }
          return out;
        };
      },
    });
    const result = await checkJobTraining({ ...s.deps, s3 }, jobId);
    expect(cancelled).not.toBeNull();
    expect(result).toMatchObject({ action: "skipped", state: "cancelled" });
    const job = await s.store.getJob(jobId);
    expect(job).toMatchObject({ state: "cancelled", reason: "cancelled during the upload" });
    const notes = (await s.store.getTimeline(jobId)).filter((t) => t.details.kind === "artifact");
    expect(notes).toEqual([]);
    expect(s.base.sim.admin.instance(instanceId)?.destroyedAtMs).not.toBeNull();
    await expectInvariantsHold(s.base);
  });

  it("a cancel that read the job before the LoRA was recorded loses to the completion's claim: 409, the job succeeds", async () => {
    // The narrow window the fresh re-read cannot close: the cancel's check found no stored LoRA,
    // then the completion check recorded it and claimed the ending. One conditional write decides.
    const s = await scenarios.start({ seed: 40 });
    const { jobId, instanceId } = await toTraining(s, { durationSeconds: SHORT_RUN_SECONDS });
    await untilTrainingExited(s, instanceId, jobId);
    const { result, cancelled } = await completionWithCancelAfter(
      s,
      jobId,
      "requestAttemptEnd",
      "cancelled a moment too late",
    );
    expect(cancelled).toBeInstanceOf(CancelTooLateError);
    expect(result).toMatchObject({ action: "succeeded", state: "succeeded" });
    expect(await s.store.getAttempt(jobId, 1)).toMatchObject({ outcome: "succeeded" });
    expect(s.base.sim.admin.instance(instanceId)?.destroyedAtMs).not.toBeNull();
    await expectInvariantsHold(s.base);
  });

  it("a cancel that claimed the ending just before the completion check did wins: the run is charged as cancelled", async () => {
    const s = await scenarios.start({ seed: 41 });
    const { jobId, instanceId } = await toTraining(s, { durationSeconds: SHORT_RUN_SECONDS });
    await untilTrainingExited(s, instanceId, jobId);
    // The cancel's claim lands between the completion's re-read and its own claim; the cancel's
    // process then stops (a crash): the next completion check finishes the cancel's ending.
    const store = storeWith(s.store, {
      requestAttemptEnd: async (real, id, attempt, intent, at) => {
        await real.requestAttemptEnd(
          id,
          attempt,
          { next: "finish", event: "cancel", reason: "cancelled at the last moment", hostFailure: false },
          at,
        );
        return await real.requestAttemptEnd(id, attempt, intent, at);
      },
    });
    const result = await checkJobTraining({ ...s.deps, store }, jobId);
    expect(result).toMatchObject({ action: "skipped", state: "collecting" });
    expect(await s.store.getAttempt(jobId, 1)).toMatchObject({ endedAt: null });

    const finished = await checkJobTraining(s.deps, jobId);
    expect(finished.state).toBe("cancelled");
    const job = await s.store.getJob(jobId);
    expect(job).toMatchObject({ state: "cancelled", reason: "cancelled at the last moment" });
    expect(job?.artifact ?? null).toBeNull();
    expect(await s.store.getAttempt(jobId, 1)).toMatchObject({ outcome: "failed" });
    expect(s.base.sim.admin.instance(instanceId)?.destroyedAtMs).not.toBeNull();
    await expectInvariantsHold(s.base);
  });

  it("a slow cancel that reads the attempt after the completion charged it as succeeded is too late", async () => {
    // Found by review: the attempt was already ended, so the cancel's claim check never ran, and
    // `collecting → cancelled` dropped a LoRA whose run was charged as succeeded.
    const s = await scenarios.start({ seed: 42 });
    const { jobId, instanceId } = await toTraining(s, { durationSeconds: SHORT_RUN_SECONDS });
    await untilTrainingExited(s, instanceId, jobId);
    // The completion check has destroyed and charged the attempt, and not yet ended the job.
    const { result, cancelled } = await completionWithCancelAfter(
      s,
      jobId,
      "endAttempt",
      "cancelled by a slow process",
    );
    expect(cancelled).toBeInstanceOf(CancelTooLateError);
    expect(result).toMatchObject({ action: "succeeded", state: "succeeded" });
    expect((await s.store.getJob(jobId))?.artifact).toMatchObject({ key: expect.any(String) });
    await expectInvariantsHold(s.base);
  });

  it("an ending the previous version claimed for the LoRA (continue, no event) still ends the job succeeded", async () => {
    // Before intents named the LoRA's claim, the completion check wrote `continue` with no event.
    const s = await scenarios.start({ seed: 43 });
    const { jobId, instanceId } = await toTraining(s, { durationSeconds: SHORT_RUN_SECONDS });
    await untilTrainingExited(s, instanceId, jobId);
    const previousVersion = storeWith(s.store, {
      requestAttemptEnd: async (real, id, attempt, intent, at) => {
        await real.requestAttemptEnd(id, attempt, { ...intent, event: null }, at);
        throw new Error("simulated crash after the claim");
      },
    });
    await expect(checkJobTraining({ ...s.deps, store: previousVersion }, jobId)).rejects.toThrow(
      /simulated crash/,
    );
    expect((await s.store.getAttempt(jobId, 1))?.endIntent).toMatchObject({ next: "continue", event: null });
    await expect(cancelJob(s.deps, jobId, "cancelled after the upgrade")).rejects.toBeInstanceOf(
      CancelTooLateError,
    );
    expect(await checkJobTraining(s.deps, jobId)).toMatchObject({ action: "succeeded", state: "succeeded" });
    expect(await s.store.getAttempt(jobId, 1)).toMatchObject({ outcome: "succeeded" });
    await expectInvariantsHold(s.base);
  });

  it("a finished run whose LoRA cannot be stored is failed after the collect timeout, not kept billing", async () => {
    const s = await scenarios.start({ seed: 37 });
    const { jobId, instanceId } = await toTraining(s, { durationSeconds: SHORT_RUN_SECONDS });
    await untilTrainingExited(s, instanceId, jobId);
    const noBucket = { ...s.deps, artifactBucket: "no-such-artifact-bucket" };
    await expect(checkJobTraining(noBucket, jobId)).rejects.toThrow();
    expect(await s.store.getJob(jobId)).toMatchObject({ state: "collecting" });
    expect(s.base.sim.admin.instance(instanceId)?.destroyedAtMs).toBeNull();
    s.base.sim.admin.advance(31 * 60);
    const ended = await checkJobTraining(noBucket, jobId);
    expect(ended).toMatchObject({ action: "failed", state: "failed" });
    expect(ended.reason).toBe(
      "Training finished but its LoRA could not be collected within 30 minutes; the instance was destroyed.",
    );
    expect(s.base.sim.admin.instance(instanceId)?.destroyedAtMs).not.toBeNull();
    await expectInvariantsHold(s.base);
  });

  it("a run that reaches the budget is stopped", async () => {
    const s = await scenarios.start({ seed: 36 });
    const { jobId, instanceId } = await toTraining(s, { durationSeconds: 600 }, { budgetUsd: 0.5 });
    expect(await checkJobTraining(s.deps, jobId)).toMatchObject({ action: "running" });
    // Several hours of renting at up to $1/h cross a $0.50 budget well before the 4 h runtime limit.
    s.base.sim.admin.advance(2 * 3600);
    const stopped = await checkJobTraining(s.deps, jobId);
    expect(stopped).toMatchObject({ action: "failed", state: "failed" });
    expect(stopped.reason).toMatch(
      /^Training stopped: the job reached its budget of \$0\.50 \(\$\d+\.\d{2} spent at most\)/,
    );
    expect(s.base.sim.admin.instance(instanceId)?.destroyedAtMs).not.toBeNull();
    await expectInvariantsHold(s.base);
  });
});
