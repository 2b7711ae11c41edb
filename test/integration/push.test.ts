/**
 * The push step end to end on simulator instances: a job goes through the real provision handler
 * to `pushing`, then functions/push-dataset.ts (fed by fauxqs) streams the dataset over the
 * instance's real SSH and launches training. The simulator's byte counter (its bandwidth ledger)
 * and the instance folder show what really arrived. Every scenario ends with the money invariants.
 */
import { statSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRecordingLogger } from "../../packages/core/src/observability";
import { hashTree, writeDataset } from "../../packages/core/test/dataset/fixtures";
import { DATASET_BUCKET, uploadDataset } from "../support/datasets";
import { expectInvariantsHold, useScenarios } from "../support/provision-harness";
import { crashingStore, type PushScenario, startPushScenario } from "../support/push-harness";
import { statesVisited } from "../support/timeline";

const scenarios = useScenarios(startPushScenario);
let local: string;
let expected: string[];

beforeAll(async () => {
  local = await mkdtemp(join(tmpdir(), "push-it-"));
  expected = await writeDataset(local, { pairs: 24, seed: 11, minBytes: 2_000, maxBytes: 6_000 });
  await uploadDataset(scenarios.infra, "cats/", local);
});
afterAll(async () => {
  await rm(local, { recursive: true, force: true });
});

/** The local folder's files, served from fauxqs S3 (the cloud intake refuses local folders). */
const localDataset = () => ({ dataset: { kind: "s3" as const, bucket: DATASET_BUCKET, prefix: "cats/" } });

function instanceFolder(s: PushScenario, instanceId: number): string {
  const inst = s.base.sim.admin.instance(instanceId);
  if (!inst) throw new Error(`no instance ${instanceId}`);
  return inst.rootDir;
}

async function readPid(s: PushScenario, instanceId: number, jobId: string): Promise<number> {
  return Number(
    (await readFile(join(instanceFolder(s, instanceId), "jobs", jobId, "train.pid"), "utf8")).trim(),
  );
}

async function expectDatasetIntact(s: PushScenario, instanceId: number, jobId: string) {
  const datasetDir = join(instanceFolder(s, instanceId), "jobs", jobId, "dataset");
  const arrived = await hashTree(datasetDir);
  const sent = await hashTree(local);
  const files = [...arrived.keys()]
    .filter((k) => k !== "MANIFEST.sha256" && k !== ".dataset-verified")
    .sort();
  expect(files).toEqual(expected);
  for (const file of files) expect(arrived.get(file)).toBe(sent.get(file));
  const siblings = await readdir(join(instanceFolder(s, instanceId), "jobs", jobId));
  expect(siblings.filter((n) => n.startsWith(".dataset."))).toEqual([]);
}

async function notes(s: PushScenario, jobId: string, kind: string) {
  return (await s.store.getTimeline(jobId)).filter((t) => t.details.kind === kind);
}

describe("push handler on simulator instances", () => {
  it("takes a submitted job through provisioning and push to training, with the dataset verified on the instance", async () => {
    const logger = createRecordingLogger();
    const s = await scenarios.start({ seed: 21, logger });
    const { jobId, instanceId } = await s.jobToPushing(localDataset());
    expect(await s.pumpPush()).toEqual({ received: 1, failed: 0 });

    const job = await s.store.getJob(jobId);
    expect(job?.state).toBe("training");
    await expectDatasetIntact(s, instanceId, jobId);
    expect(await readPid(s, instanceId, jobId)).toBeGreaterThan(0);
    expect(await statesVisited(s.store, jobId)).toEqual([
      "queued",
      "provisioning",
      "booting",
      "pushing",
      "training",
    ]);

    const [pushed] = await notes(s, jobId, "dataset_pushed");
    expect(pushed?.details).toMatchObject({ attempt: 1, files: expected.length, images: 24, captions: 24 });
    const started = (await s.store.getTimeline(jobId)).find((t) => t.to === "training");
    expect(started?.details).toMatchObject({ manifestSha256: pushed?.details.manifestSha256, pushed: true });
    expect(s.events.events.map((e) => e.detail).filter((d) => "to" in d && d.to === "training")).toHaveLength(
      1,
    );
    // The simulator counted at least the dataset's bytes into this instance.
    expect(s.base.sim.admin.instance(instanceId)?.bytesReceived).toBeGreaterThan(
      Number(pushed?.details.bytes),
    );

    // Progress was logged with bytes, files and rate; no secret reached logs, timeline or events.
    const progress = logger.records.filter((r) => r.message === "dataset push progress");
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]?.attributes).toMatchObject({
      jobId,
      files: expect.any(Number),
      bytes: expect.any(Number),
    });
    expect(progress[0]?.attributes).toHaveProperty("bytesPerSecond");
    const everything = JSON.stringify([logger.records, await s.store.getTimeline(jobId), s.events.events]);
    const keyLine = s.sshPrivateKey.split("\n").find((line) => line.length > 40) ?? s.sshPrivateKey;
    expect(everything).not.toContain(keyLine);
    expect(everything).not.toContain(s.base.sim.apiKey);
    await expectInvariantsHold(s.base);
  });

  it("a redelivered push message neither re-sends the dataset nor restarts training", async () => {
    const s = await scenarios.start({ seed: 22 });
    const { jobId, instanceId } = await s.jobToPushing(localDataset(), { durationSeconds: 30 });
    // The first delivery pushes and launches, then crashes before recording `training`.
    const crashing = s.handlerWith({ store: crashingStore(s.store, "transition") });
    expect(await s.pumpPush([crashing])).toEqual({ received: 1, failed: 1 });
    expect((await s.store.getJob(jobId))?.state).toBe("pushing");
    const bytesAfterFirst = s.base.sim.admin.instance(instanceId)?.bytesReceived ?? 0;
    const pid = await readPid(s, instanceId, jobId);
    expect(bytesAfterFirst).toBeGreaterThan(0);

    // SQS redelivers: the dataset is found verified, training is found running.
    expect(await s.pumpPush()).toEqual({ received: 1, failed: 0 });
    expect((await s.store.getJob(jobId))?.state).toBe("training");
    expect(s.base.sim.admin.instance(instanceId)?.bytesReceived).toBe(bytesAfterFirst);
    expect(await readPid(s, instanceId, jobId)).toBe(pid);
    const started = (await s.store.getTimeline(jobId)).find((t) => t.to === "training");
    expect(started?.details).toMatchObject({ pushed: false, launchedNow: false, pid });

    // A late duplicate once the job is training is dropped without touching the instance.
    await s.deps.queue.enqueue({ type: "push", jobId, attempt: 1 });
    expect(await s.pumpPush()).toEqual({ received: 1, failed: 0 });
    expect(s.base.sim.admin.instance(instanceId)?.bytesReceived).toBe(bytesAfterFirst);
    expect(await readPid(s, instanceId, jobId)).toBe(pid);
    expect(await notes(s, jobId, "dataset_pushed")).toHaveLength(1);
    await expectInvariantsHold(s.base);
  });

  it("two handlers racing on one message push once", async () => {
    const s = await scenarios.start({ seed: 23 });
    const { jobId, instanceId } = await s.jobToPushing(localDataset(), { durationSeconds: 30 });
    const other = s.handlerWith({});
    const result = await s.pumpPush([s.handler, other]);
    expect(result.received).toBe(1);
    expect((await s.store.getJob(jobId))?.state).toBe("training");
    const pushed = await notes(s, jobId, "dataset_pushed");
    expect(pushed).toHaveLength(1);
    expect((await statesVisited(s.store, jobId)).filter((t) => t === "training")).toHaveLength(1);
    // One dataset's worth of bytes (plus the config), not two.
    const bytes = s.base.sim.admin.instance(instanceId)?.bytesReceived ?? 0;
    expect(bytes).toBeLessThan(1.5 * Number(pushed[0]?.details.bytes));
    await expectDatasetIntact(s, instanceId, jobId);
    await expectInvariantsHold(s.base);
  });

  it("a connection dropped mid-push is retried by SQS and leaves an intact folder", async () => {
    const s = await scenarios.start({ seed: 24 });
    const { jobId, instanceId } = await s.jobToPushing(localDataset(), { durationSeconds: 30 });
    await s.base.sim.admin.addFault({ kind: "ssh_drop", instanceId, afterBytes: 40_000 });
    expect(await s.pumpPush()).toEqual({ received: 1, failed: 1 });
    const job = await s.store.getJob(jobId);
    expect(job?.state).toBe("pushing");
    const jobDir = join(instanceFolder(s, instanceId), "jobs", jobId);
    const left: string[] = await readdir(jobDir).catch(() => []);
    expect(left).not.toContain("dataset");

    expect(await s.pumpPush()).toEqual({ received: 1, failed: 0 });
    expect((await s.store.getJob(jobId))?.state).toBe("training");
    await expectDatasetIntact(s, instanceId, jobId);
    // Both pushes' bytes were received, and billed: the dropped one counts too.
    const pushed = (await s.store.getTimeline(jobId)).find((t) => t.details.kind === "dataset_pushed");
    const attempt = await s.store.getAttempt(jobId, 1);
    expect(attempt?.bytesPushed).toBeGreaterThan(Number(pushed?.details.bytes));
    await expectInvariantsHold(s.base);
  });

  it("a push resumed after a cut at half the dataset sends only the missing half (simulator byte counter)", async () => {
    const s = await scenarios.start({ seed: 26 });
    const half = await mkdtemp(join(tmpdir(), "push-half-"));
    try {
      // 20 images of 40–60 KB: the cut lands mid-dataset, and tar headers are ~1% of the bytes.
      await writeDataset(half, { pairs: 20, seed: 5, minBytes: 40_000, maxBytes: 60_000 });
      await uploadDataset(scenarios.infra, "half/", half);
      const payload = [...(await hashTree(half)).keys()]
        .filter((path) => /\.(jpg|jpeg|png|webp|txt)$/.test(path))
        .map((path) => statSync(join(half, path)).size);
      const total = payload.reduce((a, b) => a + b, 0);
      const largest = Math.max(...payload);
      const { jobId, instanceId } = await s.jobToPushing(
        { dataset: { kind: "s3" as const, bucket: DATASET_BUCKET, prefix: "half/" } },
        { durationSeconds: 30 },
      );
      const received = () => s.base.sim.admin.instance(instanceId)?.bytesReceived ?? 0;
      const before = received();
      await s.base.sim.admin.addFault({ kind: "ssh_drop", instanceId, afterBytes: Math.floor(total / 2) });
      expect(await s.pumpPush()).toEqual({ received: 1, failed: 1 });
      expect(received() - before).toBe(Math.floor(total / 2));

      const beforeRetry = received();
      expect(await s.pumpPush()).toEqual({ received: 1, failed: 0 });
      expect((await s.store.getJob(jobId))?.state).toBe("training");
      const resent = received() - beforeRetry;
      const [pushed] = await notes(s, jobId, "dataset_pushed");
      const details = pushed?.details as {
        bytes: number;
        reusedBytes: number;
        reusedFiles: number;
        files: number;
      };
      expect(details.files).toBe(40);
      expect(details.bytes + details.reusedBytes).toBe(total);
      // The files whole before the cut were not sent again: at least half minus the file cut in two...
      expect(details.reusedBytes).toBeGreaterThan(total / 2 - largest - 40 * 1024);
      expect(details.reusedBytes).toBeLessThanOrEqual(total / 2);
      expect(pushed?.reason).toMatch(/already on the instance were not sent again/);
      // ...and the instance received the other half: file bytes, their tar headers and padding
      // (≤ 1 KiB a file), the manifest (~100 bytes a file) and the training config.
      expect(resent).toBeGreaterThanOrEqual(details.bytes);
      expect(resent).toBeLessThan(details.bytes + 40 * 1024 + 40 * 100 + 16 * 1024);
      expect(resent).toBeLessThan(total / 2 + largest + 64 * 1024);
      const datasetDir = join(instanceFolder(s, instanceId), "jobs", jobId, "dataset");
      const arrived = await hashTree(datasetDir);
      for (const [path, hash] of await hashTree(half))
        if (!path.endsWith(".md") && !path.startsWith(".")) expect(arrived.get(path), path).toBe(hash);
      await expectInvariantsHold(s.base);
    } finally {
      await rm(half, { recursive: true, force: true });
    }
  });

  it("a hostile S3 key fails the job before any GPU is rented", async () => {
    const s = await scenarios.start({ seed: 25 });
    for (const [key, body] of [
      ["hostile/a.jpg", "img"],
      ["hostile/a.txt", "a cat"],
      ["hostile/../x.jpg", "escape"],
    ] as const) {
      await s.s3.send(new PutObjectCommand({ Bucket: DATASET_BUCKET, Key: key, Body: body }));
    }
    const jobId = await s.base.submit({
      dataset: { kind: "s3", bucket: DATASET_BUCKET, prefix: "hostile/" },
    });
    const job = await s.base.run(jobId, (j) => j.state === "failed");
    expect(job.reason).toMatch(
      /^The dataset was refused before renting a GPU: unsafe dataset entry "\.\.\/x\.jpg": contains a '\.\.' segment/,
    );
    expect(s.base.sim.admin.instances()).toEqual([]);
    expect(await s.store.listAttempts(jobId)).toEqual([]);
    expect(job).toMatchObject({ spentUsd: 0, costUsd: 0 });
    await expectInvariantsHold(s.base);
  });

  it("a changed host key is never pushed to: the instance is destroyed and another machine is rented", async () => {
    const s = await scenarios.start({ seed: 26 });
    const { jobId, instanceId } = await s.jobToPushing(localDataset());
    await s.store.updateAttempt(jobId, 1, {
      hostKeyFingerprint: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    });
    expect(await s.pumpPush()).toEqual({ received: 1, failed: 0 });
    const job = await s.store.getJob(jobId);
    expect(job?.state).toBe("provisioning");
    expect(job?.reason).toMatch(/SSH host key changed/);
    const first = s.base.sim.admin.instance(instanceId);
    expect(first?.destroyedAtMs).not.toBeNull();
    expect(first?.bytesReceived).toBe(0);
    expect(await s.store.recentHostFailures(first?.machineId ?? -1, 0)).toHaveLength(1);

    const next = await s.base.run(jobId, (j) => j.state === "pushing");
    expect(next.attempt).toBe(2);
    const second = await s.store.getAttempt(jobId, 2);
    expect(second?.machineId).not.toBe(first?.machineId);
    await expectInvariantsHold(s.base);
  });
});
