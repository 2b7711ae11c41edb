/**
 * The push step's refusals and retries against a real OpenSSH sshd (whose disk the test can
 * read): bad datasets fail the job and destroy the instance with nothing left on the remote side;
 * an unreachable instance is retried by SQS until the queue's last delivery, which ends the job
 * rather than leaving a billing GPU behind a dead-lettered message; a held lease defers the message.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../packages/core/src/clock";
import { type DatasetEntry, type DatasetReader, datasetReaderFor } from "../../packages/core/src/dataset";
import { handlePushMessage, PushInProgressError } from "../../packages/core/src/jobs";
import type { JobRequestInput } from "../../packages/core/src/jobs/request";
import { directDelivery } from "../../packages/core/src/queue";
import { DynamoJobStore } from "../../packages/core/src/store";
import { installFakeToolkit } from "../../packages/core/test/training/fake-toolkit";
import { RecordingCallbacks } from "../support/callbacks";
import { datasetAccess } from "../support/datasets";
import { type LocalDynamo, startDynamoLocal } from "../support/dynamodb";
import { freePort } from "../support/free-port";
import { sampleJobRequestInput } from "../support/job-request";
import { crashingStore, type SshdJob, seedPushingJobOnSshd } from "../support/push-harness";
import { startSshd, type TestSshd } from "../support/sshd";

let dynamo: LocalDynamo;
let sshd: TestSshd;
let store: DynamoJobStore;
let local: string;
const s3 = new S3Client({ region: "us-east-1" });
const jobs: SshdJob[] = [];

beforeAll(async () => {
  [dynamo, sshd] = await Promise.all([startDynamoLocal(), startSshd()]);
  store = new DynamoJobStore({ client: dynamo.doc, tableName: await dynamo.createJobsTable() });
  local = await mkdtemp(join(tmpdir(), "push-sshd-"));
});
afterAll(async () => {
  for (const job of jobs) await job.cleanup();
  await Promise.all([dynamo?.stop(), sshd?.close()]);
  await rm(local, { recursive: true, force: true });
  s3.destroy();
});

async function folder(name: string, files: Record<string, string>): Promise<string> {
  const root = join(local, name);
  await mkdir(root, { recursive: true });
  for (const [path, body] of Object.entries(files)) await writeFile(join(root, path), body);
  return root;
}

async function seed(
  request: Partial<JobRequestInput>,
  reader: (s: Parameters<typeof datasetReaderFor>[0]) => DatasetReader = (s) =>
    datasetReaderFor(s, { allowLocal: true }),
): Promise<SshdJob> {
  const job = await seedPushingJobOnSshd(store, sshd, {
    request: sampleJobRequestInput(request),
    datasets: { ...datasetAccess({ allowLocal: true }), reader },
    clock: systemClock,
    s3,
  });
  jobs.push(job);
  return job;
}

async function instanceOf(job: SshdJob): Promise<number> {
  return (await store.getAttempt(job.jobId, 1))?.instanceId ?? -1;
}

/** Nothing of the job's dataset (not even a partial folder) exists on the remote side. */
async function expectNothingPushed(job: SshdJob) {
  const jobDir = join(job.workspaceRoot, "jobs", job.jobId);
  const left: string[] = await readdir(jobDir).catch(() => []);
  expect(left.filter((n) => n === "dataset" || n.startsWith(".dataset."))).toEqual([]);
  expect(await readdir(job.workspaceRoot)).not.toContain("x.jpg");
}

async function expectFailedAndDestroyed(job: SshdJob, reason: RegExp) {
  const record = await store.getJob(job.jobId);
  expect(record?.state).toBe("failed");
  expect(record?.reason).toMatch(reason);
  expect(job.destroyed).toEqual([await instanceOf(job)]);
  expect(await store.getAttempt(job.jobId, 1)).toMatchObject({
    outcome: "failed",
    endedAt: expect.any(Number),
  });
}

describe("push handler refusals on a real sshd", () => {
  it("a dataset without images fails the job before anything is sent", async () => {
    const path = await folder("captions-only", { "a.txt": "a cat", "b.txt": "a dog" });
    const job = await seed({ dataset: { kind: "local", path }, callbackUrl: "https://hooks.example.test/j" });
    job.deps.callbacks = new RecordingCallbacks();
    const outcome = await handlePushMessage(job.deps, { jobId: job.jobId, attempt: 1 });
    expect(outcome.action).toBe("failed");
    await expectFailedAndDestroyed(
      job,
      /^The dataset was refused: the dataset contains no images \(jpg, jpeg, png or webp\)$/,
    );
    await expectNothingPushed(job);
    const ended = await store.getJob(job.jobId);
    // The job's callback hears of the attempt's instance going, then of the failure and its cost.
    const queued = job.queue.sent.flatMap((s) => (s.message.type === "callback" ? [s.message] : []));
    expect(queued.every((m) => m.url === "https://hooks.example.test/j")).toBe(true);
    expect(queued.map((m) => m.delivery.event.detailType)).toEqual([
      "Instance Terminated",
      "Job State Changed",
      "Job Failed",
    ]);
    expect(queued.at(-1)?.delivery.event.detail).toEqual({
      jobId: job.jobId,
      reason: "The dataset was refused: the dataset contains no images (jpg, jpeg, png or webp)",
      costUsd: ended?.costUsd,
      costBreakdown: ended?.costBreakdown,
    });
  });

  it("too many images without captions fail the job", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 10; i++) files[`img${i}.png`] = `png ${i}`;
    files["img0.txt"] = "caption";
    files["img1.txt"] = "caption";
    const job = await seed({ dataset: { kind: "local", path: await folder("few-captions", files) } });
    await handlePushMessage(job.deps, { jobId: job.jobId, attempt: 1 });
    await expectFailedAndDestroyed(job, /8 of 10 images have no \.txt caption \(at most 50% may lack one\)/);
    await expectNothingPushed(job);
  });

  it("a hostile name in a local folder (a control character) is refused with nothing written", async () => {
    const path = await folder("hostile", { "ok.jpg": "x", "ok.txt": "y", "evil\u001b[2Jname.jpg": "z" });
    const job = await seed({ dataset: { kind: "local", path } });
    await handlePushMessage(job.deps, { jobId: job.jobId, attempt: 1 });
    await expectFailedAndDestroyed(
      job,
      /unsafe dataset entry "evil\\u001b\[2Jname\.jpg": contains a control character/,
    );
    await expectNothingPushed(job);
  });

  it("a streamed source (no listing) that turns out unusable fails before its manifest verifies", async () => {
    const entry = (path: string, body: string): DatasetEntry => ({
      path,
      size: Buffer.byteLength(body),
      kind: "file",
      open: async function* () {
        yield Buffer.from(body);
      },
    });
    const reader: DatasetReader = {
      async *entries() {
        yield entry("a.jpg", "jpeg bytes");
        yield entry("b.jpg", "jpeg bytes 2");
        yield entry("c.webp", "webp bytes");
      },
    };
    const job = await seed(
      { dataset: { kind: "https", url: "https://datasets.example.test/cats.tar" } },
      () => reader,
    );
    await handlePushMessage(job.deps, { jobId: job.jobId, attempt: 1 });
    await expectFailedAndDestroyed(job, /3 of 3 images have no \.txt caption/);
    await expectNothingPushed(job);
  });

  it("a crash between destroying the instance and failing the job is finished by the redelivery, priced once", async () => {
    const path = await folder("empty-again", { "only.txt": "no image" });
    const job = await seed({ dataset: { kind: "local", path } });
    const crashing = { ...job.deps, store: crashingStore(store, "transition") };
    await expect(handlePushMessage(crashing, { jobId: job.jobId, attempt: 1 })).rejects.toThrow(
      /simulated crash/,
    );
    expect((await store.getJob(job.jobId))?.state).toBe("pushing");
    const attempt = await store.getAttempt(job.jobId, 1);
    expect(attempt).toMatchObject({ outcome: "failed", costUsd: expect.any(Number) });

    await handlePushMessage(job.deps, { jobId: job.jobId, attempt: 1 });
    const failed = await store.getJob(job.jobId);
    expect(failed?.state).toBe("failed");
    expect(failed?.reason).toMatch(/contains no images/);
    expect(failed?.spentUsd).toBe(attempt?.costUsd);
    // The destroy was recorded before the crash: the redelivery does not ask Vast again.
    expect(job.destroyed).toEqual([await instanceOf(job)]);
  });

  it("a local folder is refused where local datasets are not allowed", async () => {
    const path = await folder("fine", { "a.jpg": "x", "a.txt": "y" });
    const job = await seed({ dataset: { kind: "local", path } }, (s) =>
      datasetReaderFor(s, { allowLocal: false }),
    );
    await handlePushMessage(job.deps, { jobId: job.jobId, attempt: 1 });
    await expectFailedAndDestroyed(job, /local dataset sources are only allowed in the local stack/);
  });
});

describe("push handler retries on a real sshd", () => {
  it("an unreachable instance is retried, and the queue's last delivery ends the job instead of dead-lettering", async () => {
    const path = await folder("reachable", { "a.jpg": "x", "a.txt": "y" });
    const job = await seed({ dataset: { kind: "local", path } });
    await store.updateAttempt(job.jobId, 1, { sshPort: await freePort() });
    await expect(
      handlePushMessage(job.deps, { jobId: job.jobId, attempt: 1 }, directDelivery({ receiveCount: 1 })),
    ).rejects.toThrow(/SSH to 127\.0\.0\.1:\d+ failed/);
    expect((await store.getJob(job.jobId))?.state).toBe("pushing");
    expect(job.destroyed).toEqual([]);

    const last = await handlePushMessage(
      job.deps,
      { jobId: job.jobId, attempt: 1 },
      directDelivery({ receiveCount: 3, isLast: true }),
    );
    expect(last.action).toBe("failed");
    await expectFailedAndDestroyed(
      job,
      /^The dataset could not be pushed to the instance after 3 tries: SSH to/,
    );
  });

  it("a lease held by another handler defers the message; stale and duplicate messages are dropped", async () => {
    const path = await folder("good", { "a.jpg": "x", "a.txt": "y", "b.png": "z", "b.txt": "w" });
    const job = await seed({
      dataset: { kind: "local", path },
      training: { params: { triggerWord: "quick" } },
    });
    await installFakeToolkit(job.workspaceRoot);
    expect(await store.acquireLease(job.jobId, "push", "someone-else", 60_000)).toBe(true);
    await expect(handlePushMessage(job.deps, { jobId: job.jobId, attempt: 1 })).rejects.toBeInstanceOf(
      PushInProgressError,
    );
    expect((await store.getJob(job.jobId))?.state).toBe("pushing");

    await store.releaseLease(job.jobId, "push", "someone-else");
    const done = await handlePushMessage(job.deps, { jobId: job.jobId, attempt: 1 });
    expect(done).toMatchObject({ action: "training", pushed: true, pid: expect.any(Number) });
    expect(await handlePushMessage(job.deps, { jobId: job.jobId, attempt: 1 })).toEqual({
      action: "ignored",
      reason: "training already started",
    });
    expect(await handlePushMessage(job.deps, { jobId: job.jobId, attempt: 2 })).toMatchObject({
      action: "ignored",
      reason: "job is at attempt 1, message is for attempt 2",
    });
    expect(job.destroyed).toEqual([]);
    // The lease is free again for the next step.
    expect(await store.acquireLease(job.jobId, "push", "probe", 1_000)).toBe(true);
  });

  it("another write landing just before `training_started` does not leave a launched run unrecorded", async () => {
    const path = await folder("raced", { "a.jpg": "x", "a.txt": "y" });
    const job = await seed({
      dataset: { kind: "local", path },
      training: { params: { triggerWord: "raced" } },
    });
    await installFakeToolkit(job.workspaceRoot);
    // The reaper charges a stray of this job (its version moves) while the push is finishing.
    let raced = false;
    const racing = new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop !== "transition" || typeof value !== "function")
          return typeof value === "function" ? value.bind(target) : value;
        return async (...args: Parameters<typeof store.transition>) => {
          if (args[2].type === "training_started" && !raced) {
            raced = true;
            await store.chargeStray({
              jobId: job.jobId,
              instanceId: 424242,
              attempt: 1,
              at: Date.now(),
              cost: { gpuUsd: 0.01, storageUsd: 0, bandwidthUsd: 0 },
              reason: "a late create",
            });
          }
          return value.apply(target, args);
        };
      },
    });
    const outcome = await handlePushMessage({ ...job.deps, store: racing }, { jobId: job.jobId, attempt: 1 });
    expect(raced).toBe(true);
    expect(outcome).toMatchObject({ action: "training", pushed: true });
    expect(await store.getJob(job.jobId)).toMatchObject({ state: "training" });
  });
});
