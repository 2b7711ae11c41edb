/**
 * The completion check against a real OpenSSH sshd running the ai-toolkit stand-in (tqdm-style
 * progress, a `slow_*` run waits for a release file): progress reaches the timeline only when it
 * moved; a stale heartbeat, a changed host key or an unreachable instance past its deadline end
 * the run with the instance destroyed; a successful run's LoRA lands in S3 (fauxqs) byte for byte.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Clock } from "../../packages/core/src/clock";
import { systemClock } from "../../packages/core/src/clock";
import { checkJobTraining, handlePushMessage } from "../../packages/core/src/jobs";
import { DynamoJobStore } from "../../packages/core/src/store";
import { jobPaths } from "../../packages/core/src/training";
import { installFakeToolkit } from "../../packages/core/test/training/fake-toolkit";
import { ARTIFACT_BUCKET, ensureBuckets, realDatasets, s3For } from "../support/datasets";
import { type LocalDynamo, startDynamoLocal } from "../support/dynamodb";
import { type LocalSqs, startLocalSqs } from "../support/fauxqs";
import { freePort } from "../support/free-port";
import { sampleJobRequestInput } from "../support/job-request";
import { pollUntil } from "../support/poll";
import { type SshdJob, seedPushingJobOnSshd } from "../support/push-harness";
import { startSshd, type TestSshd } from "../support/sshd";

let dynamo: LocalDynamo;
let fauxqs: LocalSqs;
let sshd: TestSshd;
let store: DynamoJobStore;
let s3: S3Client;
let dataset: string;
const jobs: SshdJob[] = [];
/** Real time plus an offset the test can move (deadlines are checked on this clock). */
let offsetMs = 0;
const clock: Clock = { now: () => systemClock.now() + offsetMs, sleep: systemClock.sleep };

beforeAll(async () => {
  [dynamo, fauxqs, sshd] = await Promise.all([startDynamoLocal(), startLocalSqs(), startSshd()]);
  store = new DynamoJobStore({ client: dynamo.doc, tableName: await dynamo.createJobsTable(), clock });
  s3 = s3For({ sqs: fauxqs });
  await ensureBuckets(s3);
  dataset = join(sshd.workspaceRoot, "..", "dataset");
  await mkdir(dataset, { recursive: true });
  await writeFile(join(dataset, "a.jpg"), "jpeg");
  await writeFile(join(dataset, "a.txt"), "a photo of sks");
});
afterAll(async () => {
  for (const job of jobs) {
    // Let any run still waiting end, so no process outlives the test.
    await writeFile(join(jobPaths(job.jobId, job.workspaceRoot).jobDir, "release"), "").catch(() => {});
    await job.cleanup();
  }
  s3?.destroy();
  await Promise.all([dynamo?.stop(), fauxqs?.stop(), sshd?.close()]);
});

async function training(triggerWord: string, heartbeatIntervalSeconds = 1): Promise<SshdJob> {
  const job = await seedPushingJobOnSshd(store, sshd, {
    request: sampleJobRequestInput({
      dataset: { kind: "local", path: dataset },
      training: { params: { triggerWord } },
      callbackUrl: "https://hooks.example.test/x",
    }),
    datasets: realDatasets(s3),
    clock,
    s3,
    push: { heartbeatIntervalSeconds },
  });
  jobs.push(job);
  await installFakeToolkit(job.workspaceRoot);
  expect(await handlePushMessage(job.deps, { jobId: job.jobId, attempt: 1 })).toMatchObject({
    action: "training",
  });
  return job;
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const seen: { value?: T } = {};
  const value = await pollUntil(
    async () => {
      seen.value = await fn();
      return ok(seen.value) ? seen.value : undefined;
    },
    timeoutMs,
    50,
  );
  if (value === undefined) throw new Error(`timed out: ${JSON.stringify(seen.value)}`);
  return value;
}

const progressNotes = async (jobId: string) =>
  (await store.getTimeline(jobId)).filter((t) => t.details.kind === "progress");

describe("completion check on a real sshd", () => {
  it("records progress only when it moved, then collects the LoRA byte for byte and destroys the instance", async () => {
    const job = await training("slow_progress");
    const first = await until(
      () => checkJobTraining(job.deps, job.jobId),
      (r) => r.progress?.step === 10,
    );
    expect(first).toMatchObject({ action: "running", progress: { step: 10, totalSteps: 10 } });
    const notesAfterFirst = (await progressNotes(job.jobId)).length;
    expect(notesAfterFirst).toBeGreaterThanOrEqual(1);
    // Polling again with no movement writes nothing.
    for (let i = 0; i < 3; i++) {
      expect(await checkJobTraining(job.deps, job.jobId)).toMatchObject({
        action: "running",
        progressRecorded: false,
      });
    }
    expect(await progressNotes(job.jobId)).toHaveLength(notesAfterFirst);
    expect((await progressNotes(job.jobId)).at(-1)?.reason).toBe("training step 10/10");

    const paths = jobPaths(job.jobId, job.workspaceRoot);
    await writeFile(join(paths.jobDir, "release"), "");
    const done = await until(
      () => checkJobTraining(job.deps, job.jobId),
      (r) => r.action !== "running",
    );
    expect(done.action).toBe("succeeded");
    const local = await readFile(join(paths.trainingFolder, job.jobId, `${job.jobId}.safetensors`));
    const object = await s3.send(
      new GetObjectCommand({
        Bucket: ARTIFACT_BUCKET,
        Key: `artifacts/${job.jobId}/${job.jobId}.safetensors`,
      }),
    );
    const stored = Buffer.from(await object.Body!.transformToByteArray());
    expect(stored.equals(local)).toBe(true);
    expect(done.artifact).toEqual({
      bucket: ARTIFACT_BUCKET,
      key: `artifacts/${job.jobId}/${job.jobId}.safetensors`,
      bytes: local.length,
      sha256: createHash("sha256").update(local).digest("hex"),
    });
    expect(job.destroyed).toHaveLength(1);
    const record = await store.getJob(job.jobId);
    expect(record?.state).toBe("succeeded");
    // $0.50/h for a few seconds: tiny but positive, and equal to what the attempt recorded.
    const attempt = await store.getAttempt(job.jobId, 1);
    expect(record?.spentUsd).toBeGreaterThan(0);
    expect(record?.spentUsd).toBeCloseTo(attempt?.costUsd ?? -1, 12);
  });

  it("a stale heartbeat ends the run with the instance destroyed", async () => {
    const job = await training("slow_hung", 3600);
    await until(
      () => checkJobTraining(job.deps, job.jobId),
      (r) => r.progress?.step === 10,
    );
    const { heartbeatPath } = jobPaths(job.jobId, job.workspaceRoot);
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    await utimes(heartbeatPath, twoHoursAgo, twoHoursAgo);
    const result = await checkJobTraining(job.deps, job.jobId);
    expect(result.action).toBe("failed");
    expect(result.reason).toMatch(
      /^Training stopped responding: no heartbeat for 7\d{3} s \(last log line: .*10\/10/,
    );
    expect(job.destroyed).toHaveLength(1);
    const diagnostics = (await store.getTimeline(job.jobId)).find((t) => t.kind === "diagnostics");
    expect(diagnostics?.details).toMatchObject({ progress: { step: 10, totalSteps: 10 } });
  });

  it("a changed host key during training fails the job and destroys the instance", async () => {
    const job = await training("slow_key");
    await store.updateAttempt(job.jobId, 1, {
      hostKeyFingerprint: "SHA256:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
    });
    const result = await checkJobTraining(job.deps, job.jobId);
    expect(result).toMatchObject({ action: "failed", state: "failed" });
    expect(result.reason).toMatch(/SSH host key changed during training/);
    expect(job.destroyed).toHaveLength(1);
    expect(await store.recentHostFailures(77, 0)).toEqual(
      expect.arrayContaining([expect.objectContaining({ jobId: job.jobId })]),
    );
  });

  it("an unreachable instance is left alone until the job's deadline, then destroyed", async () => {
    const job = await training("slow_gone");
    await store.updateAttempt(job.jobId, 1, { sshPort: await freePort() });
    const result = await checkJobTraining(job.deps, job.jobId);
    expect(result).toMatchObject({ action: "unreachable", state: "training" });
    expect(job.destroyed).toEqual([]);

    offsetMs = 5 * 3_600_000;
    try {
      const late = await checkJobTraining(job.deps, job.jobId);
      expect(late).toMatchObject({ action: "failed", state: "failed" });
      expect(late.reason).toMatch(
        /exceeded its maximum runtime of 240 minutes \(the instance was unreachable/,
      );
      expect(job.destroyed).toHaveLength(1);
    } finally {
      offsetMs = 0;
    }
  });
});

afterAll(async () => {
  await rm(dataset, { recursive: true, force: true });
});
