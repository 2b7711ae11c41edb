/**
 * The provisioning and readiness logic against the real store (DynamoDB Local), with a
 * scriptable Vast, an in-memory queue and event recorder, and a hand-driven clock.
 */
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type LocalDynamo, startDynamoLocal } from "../../../../test/support/dynamodb";
import { fakeDatasets } from "../../../../test/support/fake-datasets";
import { FakeVast, fakePreflight, fakeProbe, instance, offer } from "../../../../test/support/fake-vast";
import { sampleJobRequestInput } from "../../../../test/support/job-request";
import { type Clock, systemClock } from "../../src/clock";
import { InMemoryEventPublisher } from "../../src/events";
import {
  cancelJob,
  checkReadiness,
  JobBusyError,
  type ProvisionDeps,
  provisionJob,
  submitJob,
} from "../../src/jobs";
import { silentLogger } from "../../src/observability";
import { InMemoryJobQueue } from "../../src/queue";
import { SshHostKeyMismatchError } from "../../src/ssh";
import { DynamoJobStore } from "../../src/store";
import { VastAIError } from "../../src/vast/errors";

let dynamo: LocalDynamo;
let store: DynamoJobStore;
let tableName: string;
let vast: FakeVast;
let queue: InMemoryJobQueue;
let events: InMemoryEventPublisher;
let probe: ReturnType<typeof fakeProbe>;
let preflight: ReturnType<typeof fakePreflight>;
let deps: ProvisionDeps;
let now: number;
const clock: Clock = { now: () => now, sleep: systemClock.sleep };
let messageSeq = 0;
/** The test offers' disk: $0.20/GB/month × 64 GB over Vast's 720-hour month. */
const STORAGE_PER_HOUR = (0.2 * 64) / 720;

beforeAll(async () => {
  dynamo = await startDynamoLocal();
});
afterAll(async () => {
  await dynamo?.stop();
});
beforeEach(async () => {
  // Near the real time: DynamoDB Local deletes records whose TTL (from this clock) has passed.
  now = Math.floor(Date.now() / 1000) * 1000;
  tableName = await dynamo.createJobsTable();
  store = new DynamoJobStore({ client: dynamo.doc, tableName, clock });
  vast = new FakeVast();
  queue = new InMemoryJobQueue();
  events = new InMemoryEventPublisher();
  probe = fakeProbe();
  preflight = fakePreflight();
  deps = {
    store,
    vast,
    queue,
    events,
    probe,
    preflight,
    clock,
    logger: silentLogger,
    secrets: ["sekret-api-key-123", "hf_fake_token_0123456789"],
    hfToken: "hf_fake_token_0123456789",
    datasets: fakeDatasets(),
  };
});

async function submit(overrides = {}) {
  const { jobId } = await submitJob(
    { store, queue, events, logger: silentLogger },
    sampleJobRequestInput(overrides),
  );
  queue.drain();
  return jobId;
}

const readiness = (jobId: string, attempt: number, check = 0) =>
  checkReadiness(deps, { type: "readiness", jobId, attempt, check }, { messageId: `m-${messageSeq++}` });

async function provisionAndBoot(jobId: string) {
  await provisionJob(deps, jobId);
  const job = await store.getJob(jobId);
  const attempt = await store.getAttempt(jobId, job?.attempt ?? 0);
  return { job, attempt };
}

describe("provisionJob", () => {
  it("records the attempt with its label before the create, then the instance, then boots", async () => {
    const jobId = await submit();
    vast.beforeCreate = async (label) => {
      const job = await store.getJob(jobId);
      const attempt = await store.getAttempt(jobId, job?.attempt ?? 0);
      expect(attempt).toMatchObject({ outcome: "pending", label, instanceId: null });
    };
    const { job, attempt } = await provisionAndBoot(jobId);
    expect(vast.count("create")).toBe(1);
    expect(job).toMatchObject({ state: "booting", attempt: 1 });
    expect(attempt).toMatchObject({
      offerId: 1,
      machineId: 10,
      outcome: "rented",
      label: `vast-rental:${jobId}:1`,
    });
    expect(await store.findJobByInstanceId(attempt?.instanceId ?? -1)).toMatchObject({ jobId, attempt: 1 });
    expect(queue.sent).toEqual([
      { queue: "provision", message: { type: "readiness", jobId, attempt: 1, check: 0 }, delaySeconds: 5 },
    ]);
    expect(
      events.events.map((e) => (e.detailType === "Job State Changed" ? e.detail.to : e.detailType)),
    ).toEqual(["Job Submitted", "provisioning", "booting", "Instance Provisioned"]);
    expect(events.of("Instance Provisioned")).toEqual([
      {
        jobId,
        attempt: 1,
        instanceId: attempt?.instanceId,
        offerId: 1,
        machineId: 10,
        gpuName: "RTX 4090",
        hourlyUsd: 0.31,
      },
    ]);
  });

  it("passes the job's constraints to the search and rents the cheapest reliable offer", async () => {
    vast.offers = [
      offer(1, { hourlyUsd: 0.2, reliability: 0.5 }),
      offer(2, { hourlyUsd: 0.5 }),
      offer(3, { hourlyUsd: 0.35 }),
    ];
    const jobId = await submit({ minReliability: 0.9, minVramGb: 20, diskGb: 100 });
    const { attempt } = await provisionAndBoot(jobId);
    expect(attempt?.offerId).toBe(3);
    expect(vast.calls[0]?.arg).toMatchObject({
      gpuType: "RTX 4090",
      region: "US",
      maxHourlyUsd: 1,
      minReliability: 0.9,
      // Raised to what flux-lora-24gb needs; the image's CUDA and the default bandwidth floor.
      minVramGb: 24,
      minDiskGb: 100,
      numGpus: 1,
      minCudaVersion: 13,
      minInetDownMbps: 200,
    });
    // The template's image, and the Hugging Face token for its gated model.
    expect(vast.calls.find((c) => c.op === "create")?.arg).toMatchObject({
      image: "ostris/aitoolkit:0.13.18",
      env: { HF_TOKEN: "hf_fake_token_0123456789" },
    });
  });

  it("keeps a request's stricter constraints and its own image; 0 lifts the bandwidth floor", async () => {
    const jobId = await submit({
      minVramGb: 48,
      minInetDownMbps: 0,
      image: "example/trainer:1.2",
      training: { template: "flux-lora-low-vram", params: { triggerWord: "ohwx" } },
    });
    await provisionAndBoot(jobId);
    const search = vast.calls[0]?.arg as Record<string, unknown>;
    expect(search).toMatchObject({ minVramGb: 48, minCudaVersion: 13 });
    expect(search).not.toHaveProperty("minInetDownMbps");
    expect(vast.calls.find((c) => c.op === "create")?.arg).toMatchObject({ image: "example/trainer:1.2" });
  });

  it("a job for a gated model fails before any search or create when no Hugging Face token is configured", async () => {
    delete deps.hfToken;
    const jobId = await submit();
    await provisionJob(deps, jobId);
    const job = await store.getJob(jobId);
    expect(job?.state).toBe("failed");
    expect(job?.reason).toBe(
      'Stopped before renting: the training template "flux-lora-24gb" downloads black-forest-labs/FLUX.1-dev, a gated model on Hugging Face, and no Hugging Face token is configured (hfToken in the deployment\'s secret).',
    );
    expect(vast.calls.map((c) => c.op)).toEqual([]);
    expect(events.of("Job Failed")).toHaveLength(1);
  });

  it("a job whose template is no longer installed fails before renting", async () => {
    const jobId = await submit();
    const job = await store.getJob(jobId);
    // As if the file had been removed since the job was accepted.
    await dynamo.doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { pk: `JOB#${jobId}`, sk: "JOB" },
        UpdateExpression: "SET #r.#t.#n = :gone",
        ExpressionAttributeNames: { "#r": "request", "#t": "training", "#n": "template" },
        ExpressionAttributeValues: { ":gone": "flux-lora-retired" },
      }),
    );
    expect(job?.request.training.template).toBe("flux-lora-24gb");
    await provisionJob(deps, jobId);
    expect(await store.getJob(jobId)).toMatchObject({
      state: "failed",
      reason: 'Stopped before renting: the training template "flux-lora-retired" is not installed.',
    });
    expect(vast.calls).toEqual([]);
  });

  it("moves to the next offer when one is taken (offer_unavailable)", async () => {
    const jobId = await submit();
    vast.createScript = ["offer_unavailable", "offer_unavailable"];
    const { job, attempt } = await provisionAndBoot(jobId);
    expect(job).toMatchObject({ state: "booting", attempt: 3 });
    expect(attempt?.offerId).toBe(3);
    const attempts = await store.listAttempts(jobId);
    expect(attempts.map((a) => a.outcome)).toEqual(["not_rented", "not_rented", "rented"]);
    expect(vast.instances.size).toBe(1);
  });

  it("searches again later when every tried offer was taken, and fails after a bounded number of tries", async () => {
    deps.settings = { provision: { maxUnrentedTries: 4 } };
    const jobId = await submit();
    vast.createScript = Array(6).fill("offer_unavailable");
    await provisionJob(deps, jobId);
    expect(await store.getJob(jobId)).toMatchObject({ state: "provisioning", attempt: 3 });
    expect(queue.drain()).toEqual([
      { queue: "provision", message: { type: "provision", jobId }, delaySeconds: 30 },
    ]);
    const note = (await store.getTimeline(jobId)).find((t) => t.kind === "note" && /no offer/.test(t.reason));
    expect(note?.reason).toMatch(/^no offer could be rented in this pass \(offer 1: the offer was taken/);

    await provisionJob(deps, jobId);
    const job = await store.getJob(jobId);
    expect(job?.state).toBe("failed");
    expect(job?.reason).toMatch(
      /^Could not rent a GPU: 3 offers were tried and none could be rented \(offer 1: /,
    );
    expect(vast.count("create")).toBe(6);
    expect(vast.instances.size).toBe(0);
  });

  it("adopts the instance when a create errors but rented (no second create)", async () => {
    const jobId = await submit();
    vast.createScript = ["ambiguous_rented"];
    const { job, attempt } = await provisionAndBoot(jobId);
    expect(vast.count("create")).toBe(1);
    expect(vast.count("findByLabel")).toBe(1);
    expect(vast.calls.filter((c) => c.op === "authorize").map((c) => c.arg)).toEqual([attempt?.instanceId]);
    expect(job?.state).toBe("booting");
    expect(attempt?.instanceId).toBe([...vast.instances.keys()][0]);
    expect(vast.instances.size).toBe(1);
  });

  it("after an ambiguous create that rented nothing, keeps looking the label up before renting another offer", async () => {
    const jobId = await submit();
    vast.createScript = ["ambiguous_not_rented"];
    await provisionJob(deps, jobId);
    expect(await store.getJob(jobId)).toMatchObject({ state: "provisioning", attempt: 1 });
    expect(await store.getAttempt(jobId, 1)).toMatchObject({
      outcome: "unresolved",
      unresolvedSince: now,
      endedAt: null,
    });
    expect(queue.drain()).toEqual([
      { queue: "provision", message: { type: "provision", jobId }, delaySeconds: 20 },
    ]);
    // Within the window: another look, still nothing, still no second create.
    now += 60_000;
    await provisionJob(deps, jobId);
    expect(vast.count("create")).toBe(1);
    expect(await store.getAttempt(jobId, 1)).toMatchObject({ outcome: "unresolved", labelLookups: 2 });
    // Past the window (3 minutes): the attempt rented nothing; the next offer is rented.
    now += 121_000;
    const { job } = await provisionAndBoot(jobId);
    expect(vast.count("create")).toBe(2);
    expect(job).toMatchObject({ state: "booting", attempt: 2 });
    expect(await store.getAttempt(jobId, 1)).toMatchObject({ outcome: "not_rented", labelLookups: 3 });
    expect(vast.instances.size).toBe(1);
  });

  it("adopts an ambiguous create that completes after the first look-up, without renting again", async () => {
    const jobId = await submit();
    vast.createScript = ["ambiguous_not_rented"];
    await provisionJob(deps, jobId);
    expect(vast.count("findByLabel")).toBe(1);
    // Vast finishes the create a minute later.
    now += 60_000;
    const late = vast.rent(1, `vast-rental:${jobId}:1`);
    const { job, attempt } = await provisionAndBoot(jobId);
    expect(job).toMatchObject({ state: "booting", attempt: 1 });
    expect(attempt).toMatchObject({ instanceId: late, outcome: "rented" });
    expect(vast.count("create")).toBe(1);
    expect(vast.calls.filter((c) => c.op === "authorize").map((c) => c.arg)).toEqual([late]);
  });

  it("recovers a crash between create and the database write by looking the label up", async () => {
    const jobId = await submit();
    let crash = true;
    vast.beforeCreate = async () => {
      if (crash) {
        crash = false;
        // The create goes through, then the process dies before recording the instance id.
        const job = await store.getJob(jobId);
        vast.rent(1, `vast-rental:${jobId}:${job?.attempt}`);
        throw new Error("Lambda crashed");
      }
    };
    await expect(provisionJob(deps, jobId)).rejects.toThrow("Lambda crashed");
    expect((await store.getJob(jobId))?.state).toBe("provisioning");
    const { job, attempt } = await provisionAndBoot(jobId);
    expect(vast.count("create")).toBe(1);
    expect(job).toMatchObject({ state: "booting", attempt: 1 });
    expect(attempt?.instanceId).toBe([...vast.instances.keys()][0]);
    expect(vast.count("authorize")).toBe(1);
    expect(vast.instances.size).toBe(1);
  });

  it("a create Vast refused outright (429) rented nothing: the retry rents without waiting", async () => {
    const jobId = await submit();
    vast.createScript = ["rate_limited"];
    await expect(provisionJob(deps, jobId)).rejects.toThrow(/too frequent/);
    expect(await store.getAttempt(jobId, 1)).toMatchObject({ outcome: "not_rented" });
    const { job } = await provisionAndBoot(jobId);
    expect(vast.count("findByLabel")).toBe(0);
    expect(job).toMatchObject({ state: "booting", attempt: 2 });
    expect((await store.listAttempts(jobId)).map((a) => a.outcome)).toEqual(["not_rented", "rented"]);
  });

  it("an instance whose SSH key could not be attached is destroyed as a stray, even when the first destroy fails", async () => {
    const jobId = await submit();
    vast.createScript = ["key_attach_failed"];
    const terminate = vast.terminateInstance.bind(vast);
    let refusals = 1;
    vast.terminateInstance = async (id: number) => {
      if (refusals-- > 0)
        throw new VastAIError({ code: "server", message: "HTTP 502", status: 502, retryable: true });
      return terminate(id);
    };
    await expect(provisionJob(deps, jobId)).rejects.toThrow(/HTTP 502/);
    const [stray] = [...vast.instances.keys()];
    // The attempt is ending without it: it will never boot.
    expect(await store.getAttempt(jobId, 1)).toMatchObject({
      instanceId: null,
      endIntent: { next: "continue" },
    });
    now += 60_000;
    const { job, attempt } = await provisionAndBoot(jobId);
    expect(vast.instances.has(stray as number)).toBe(false);
    expect(job).toMatchObject({ state: "booting", attempt: 2 });
    expect(attempt?.instanceId).not.toBe(stray);
    expect(await store.getAttempt(jobId, 1)).toMatchObject({
      outcome: "not_rented",
      endedAt: expect.any(Number),
    });
    // The stray's minute of disk is on the job's bill.
    expect(job?.spentUsd).toBeCloseTo(STORAGE_PER_HOUR / 60, 9);
  });

  it("a cancel while a create is in flight: the instance that create returns is destroyed at once", async () => {
    const jobId = await submit();
    vast.beforeCreate = async () => {
      vast.beforeCreate = null;
      await cancelJob(deps, jobId, "changed my mind");
    };
    await provisionJob(deps, jobId);
    expect(await store.getJob(jobId)).toMatchObject({ state: "cancelled", reason: "changed my mind" });
    expect(vast.count("create")).toBe(1);
    expect(vast.count("destroy")).toBe(1);
    expect(vast.instances.size).toBe(0);
    expect(await store.getAttempt(jobId, 1)).toMatchObject({ instanceId: null, outcome: "not_rented" });
  });

  it("a stray that raced a cancel and booted meanwhile is charged the GPU it billed, not its disk alone", async () => {
    const jobId = await submit();
    vast.beforeCreate = async () => {
      vast.beforeCreate = null;
      await cancelJob(deps, jobId, "changed my mind");
    };
    const create = vast.provisionInstance.bind(vast);
    vast.provisionInstance = async (input) => {
      const made = await create(input);
      // The call took a minute to answer; the instance was running all along.
      vast.instances.set(
        made.instanceId,
        instance(made.instanceId, { state: "running", startedAtMs: now, label: input.label }),
      );
      now += 60_000;
      return made;
    };
    await provisionJob(deps, jobId);
    const job = await store.getJob(jobId);
    expect(job?.state).toBe("cancelled");
    expect(vast.instances.size).toBe(0);
    expect(job?.costUsd).toBeCloseTo(0.3 / 60 + STORAGE_PER_HOUR / 60, 9);
  });

  it("does nothing for a duplicate message once the job is booting", async () => {
    const jobId = await submit();
    await provisionJob(deps, jobId);
    await provisionJob(deps, jobId);
    expect(vast.count("create")).toBe(1);
    expect(queue.sent).toHaveLength(1);
  });

  it("refuses a second concurrent pass on the same job (lease)", async () => {
    const jobId = await submit();
    let release: () => void = () => {};
    vast.beforeCreate = () => new Promise<void>((resolve) => (release = resolve));
    const first = provisionJob(deps, jobId);
    while (vast.count("create") === 0) await new Promise((r) => setTimeout(r, 5));
    await expect(provisionJob(deps, jobId)).rejects.toBeInstanceOf(JobBusyError);
    release();
    await first;
    expect(vast.count("create")).toBe(1);
  });

  it("stops before renting when the deadline has passed or the budget is spent", async () => {
    const late = await submit({ maxRuntimeMinutes: 10 });
    now += 11 * 60_000;
    await provisionJob(deps, late);
    expect(await store.getJob(late)).toMatchObject({ state: "failed" });
    expect((await store.getJob(late))?.reason).toMatch(/maximum runtime of 10 minutes/);
    expect(vast.count("search")).toBe(0);
    expect(vast.count("create")).toBe(0);
  });

  it("fails with the constraints spelled out when no offer matches", async () => {
    vast.offers = [];
    const jobId = await submit();
    await provisionJob(deps, jobId);
    const job = await store.getJob(jobId);
    expect(job?.state).toBe("failed");
    expect(job?.reason).toContain("No GPU offer matches the request: 1× RTX 4090, in US, at most $1/h");
  });
});

describe("checkReadiness", () => {
  it("re-checks with backoff until Vast starts the instance, every few seconds once it loads, then hands over to push", async () => {
    const jobId = await submit();
    const { attempt } = await provisionAndBoot(jobId);
    const id = attempt?.instanceId as number;
    queue.drain();
    vast.setState(id, { state: "provisioning" });
    await readiness(jobId, 1, 0);
    await readiness(jobId, 1, 1);
    expect(queue.drain().map((s) => [s.message, s.delaySeconds])).toEqual([
      [{ type: "readiness", jobId, attempt: 1, check: 1 }, 10],
      [{ type: "readiness", jobId, attempt: 1, check: 2 }, 20],
    ]);
    // Loading, or running without SSH yet: close to ready, so the short delay.
    vast.setState(id, { state: "loading" });
    await readiness(jobId, 1, 2);
    vast.setState(id, { state: "running", sshHost: "127.0.0.1", sshPort: 2222 });
    probe.failing = true;
    await readiness(jobId, 1, 3);
    expect(queue.drain().map((s) => [s.message, s.delaySeconds])).toEqual([
      [{ type: "readiness", jobId, attempt: 1, check: 3 }, 3],
      [{ type: "readiness", jobId, attempt: 1, check: 4 }, 3],
    ]);
    probe.failing = false;
    await readiness(jobId, 1, 4);
    expect(queue.drain()).toEqual([
      { queue: "push", message: { type: "push", jobId, attempt: 1 }, delaySeconds: 0 },
    ]);
    expect(await store.getJob(jobId)).toMatchObject({ state: "pushing" });
    expect(await store.getAttempt(jobId, 1)).toMatchObject({
      outcome: "ready",
      hostKeyFingerprint: "SHA256:fake",
      sshPort: 2222,
    });
  });

  it("a duplicated check message neither repeats the work nor doubles the chain", async () => {
    const jobId = await submit();
    await provisionAndBoot(jobId);
    queue.drain();
    await Promise.all([readiness(jobId, 1, 0), readiness(jobId, 1, 0)]);
    expect(queue.drain()).toHaveLength(1);
    expect(vast.count("show")).toBe(1);
  });

  it("times out a stuck boot: diagnostics kept, instance destroyed, host remembered, next attempt elsewhere", async () => {
    const jobId = await submit({ bootTimeoutMinutes: 15 });
    const { attempt } = await provisionAndBoot(jobId);
    const id = attempt?.instanceId as number;
    vast.setState(id, { statusMessage: "pulling image sekret-api-key-123" });
    vast.logs = "booting\nstill pulling layers\n";
    queue.drain();
    now += 15 * 60_000;
    await readiness(jobId, 1, 7);
    expect(vast.calls.filter((c) => c.op === "destroy").map((c) => c.arg)).toEqual([id]);
    expect(await store.getJob(jobId)).toMatchObject({ state: "provisioning" });
    expect(queue.drain().map((s) => s.message)).toEqual([{ type: "provision", jobId }]);
    const failed = await store.getAttempt(jobId, 1);
    expect(failed?.outcome).toBe("failed");
    expect(failed?.failureReason).toMatch(/did not become ready within 15 min \(last state 'loading'/);
    // Never running: Vast billed its disk only.
    expect(failed?.costUsd).toBeCloseTo(STORAGE_PER_HOUR * 0.25, 9);
    expect(failed?.cost).toMatchObject({ gpuUsd: 0, bandwidthUsd: 0 });
    const diagnostics = (await store.getTimeline(jobId)).find((t) => t.kind === "diagnostics");
    expect(diagnostics?.details).toMatchObject({
      state: "loading",
      logTail: "booting\nstill pulling layers\n",
    });
    expect(JSON.stringify(await store.getTimeline(jobId))).not.toContain("sekret-api-key-123");
    expect([...(await store.recentlyFailedMachines(now - 1000))]).toEqual([10]);

    await provisionJob(deps, jobId);
    const job = await store.getJob(jobId);
    expect(job).toMatchObject({ state: "booting", attempt: 2 });
    expect((await store.getAttempt(jobId, 2))?.machineId).toBe(20);
    expect(job?.spentUsd).toBeCloseTo(STORAGE_PER_HOUR * 0.25, 9);
  });

  it("treats a fatal state (OCI failure) at once, and fails the job after the last attempt", async () => {
    const jobId = await submit({ maxAttempts: 2 });
    for (const attemptNo of [1, 2]) {
      const { attempt } = await provisionAndBoot(jobId);
      vast.setState(attempt?.instanceId as number, {
        state: "failed",
        statusMessage: "OCI runtime create failed: container_linux.go:380",
      });
      await readiness(jobId, attemptNo, 0);
    }
    const job = await store.getJob(jobId);
    expect(job?.state).toBe("failed");
    expect(job?.reason).toMatch(/^Gave up after 2 rented GPUs failed \(limit 2\)/);
    expect(job?.reason).toContain("the instance failed to start: OCI runtime create failed");
    expect(vast.instances.size).toBe(0);
    expect(vast.count("create")).toBe(2);
  });

  it("treats an unwanted stop and a vanished instance as fatal", async () => {
    const jobId = await submit();
    const { attempt } = await provisionAndBoot(jobId);
    vast.setState(attempt?.instanceId as number, { state: "stopped", statusMessage: "outbid" });
    await readiness(jobId, 1, 0);
    expect((await store.getAttempt(jobId, 1))?.failureReason).toBe(
      "the instance was stopped by its host while booting: outbid",
    );
    const second = await provisionAndBoot(jobId);
    vast.instances.delete(second.attempt?.instanceId as number);
    await readiness(jobId, 2, 0);
    expect((await store.getAttempt(jobId, 2))?.failureReason).toBe("the instance disappeared while booting");
  });

  it("ignores checks for an attempt that is no longer current", async () => {
    const jobId = await submit();
    await provisionAndBoot(jobId);
    queue.drain();
    await readiness(jobId, 7, 0);
    expect(queue.sent).toEqual([]);
    expect(vast.count("show")).toBe(0);
  });

  it("a job cancelled while booting has its instance destroyed by the cancel; later checks do nothing", async () => {
    const jobId = await submit();
    const { attempt } = await provisionAndBoot(jobId);
    now += 20 * 60_000;
    const cancelled = await cancelJob(deps, jobId, "the user cancelled");
    expect(cancelled).toMatchObject({ state: "cancelled", reason: "the user cancelled" });
    expect(vast.calls.filter((c) => c.op === "destroy").map((c) => c.arg)).toEqual([attempt?.instanceId]);
    expect(vast.instances.size).toBe(0);
    const cost = STORAGE_PER_HOUR * (20 / 60);
    expect(await store.getAttempt(jobId, 1)).toMatchObject({
      outcome: "failed",
      failureReason: "the user cancelled",
    });
    expect((await store.getAttempt(jobId, 1))?.costUsd).toBeCloseTo(cost, 9);
    expect(cancelled.costUsd).toBeCloseTo(cost, 9);
    // Readiness checks still in the queue (and their redeliveries) neither destroy nor charge again.
    now += 5 * 60_000;
    const message = { type: "readiness" as const, jobId, attempt: 1, check: 0 };
    await checkReadiness(deps, message, { messageId: "m-ended" });
    await checkReadiness(deps, message, { messageId: "m-ended" });
    await checkReadiness(deps, { ...message, check: 1 }, { messageId: "m-ended-2" });
    expect(vast.count("destroy")).toBe(1);
    expect((await store.getJob(jobId))?.costUsd).toBeCloseTo(cost, 9);
    // Cancelling again changes nothing.
    expect(await cancelJob(deps, jobId, "again")).toMatchObject({
      state: "cancelled",
      reason: "the user cancelled",
    });
  });

  it("a boot timeout interrupted after its charge is finished by the redelivery without charging again", async () => {
    const jobId = await submit({ bootTimeoutMinutes: 15 });
    await provisionAndBoot(jobId);
    queue.drain();
    now += 15 * 60_000;
    const transition = store.transition.bind(store);
    store.transition = async () => {
      throw new Error("lambda timed out");
    };
    const message = { type: "readiness" as const, jobId, attempt: 1, check: 3 };
    await expect(checkReadiness(deps, message, { messageId: "m-crash" })).rejects.toThrow("lambda timed out");
    store.transition = transition;
    const cost = STORAGE_PER_HOUR * 0.25;
    expect((await store.getJob(jobId))?.spentUsd).toBeCloseTo(cost, 6);
    expect(await store.getJob(jobId)).toMatchObject({ state: "booting" });
    now += 60_000;
    await checkReadiness(deps, message, { messageId: "m-crash" });
    const job = await store.getJob(jobId);
    expect(job).toMatchObject({ state: "provisioning" });
    expect(job?.spentUsd).toBeCloseTo(cost, 6);
    expect((await store.getAttempt(jobId, 1))?.failureReason).toMatch(/did not become ready within 15 min/);
    expect(queue.drain().map((s) => s.message)).toEqual([{ type: "provision", jobId }]);
  });

  it("a cancel racing a boot timeout ends the job once, with the instance's cost on the final bill", async () => {
    const jobId = await submit({ bootTimeoutMinutes: 15 });
    await provisionAndBoot(jobId);
    now += 15 * 60_000;
    // The cancel lands between the destroy and the books.
    const terminate = vast.terminateInstance.bind(vast);
    let raced = false;
    vast.terminateInstance = async (id: number) => {
      const answer = await terminate(id);
      if (raced) return answer;
      raced = true;
      await cancelJob(deps, jobId, "user");
      return answer;
    };
    await readiness(jobId, 1, 3);
    const job = await store.getJob(jobId);
    expect(job?.state).toBe("cancelled");
    expect(job?.spentUsd).toBeCloseTo(STORAGE_PER_HOUR * 0.25, 9);
    expect(job?.costUsd).toBeCloseTo(STORAGE_PER_HOUR * 0.25, 9);
    expect(queue.drain().filter((m) => m.message.type === "provision")).toEqual([]);
  });

  it("keeps secrets out of failure reasons, the timeline and events", async () => {
    const secret = "sekret-api-key-123";
    vast.offers = [offer(1)];
    const jobId = await submit();
    // A Vast error quoting the key (as a badly behaved proxy might).
    vast.provisionInstance = async () => {
      throw new VastAIError({ code: "auth", message: `invalid api key ${secret}`, status: 401 });
    };
    await provisionJob(deps, jobId);
    const job = await store.getJob(jobId);
    expect(job?.state).toBe("failed");
    expect(job?.reason).toBe("Vast refused to rent: invalid api key [REDACTED]");
    const everything = JSON.stringify([
      job,
      await store.getTimeline(jobId),
      await store.listAttempts(jobId),
      events.events,
    ]);
    expect(everything).not.toContain(secret);
    expect(everything).toContain("[REDACTED]");
  });

  it("stops the job instead of renting again once the budget is spent", async () => {
    const jobId = await submit({ budgetUsd: 0.05 });
    const { attempt } = await provisionAndBoot(jobId);
    // Running (so the GPU bills from Vast's start date) but never answering SSH.
    vast.setState(attempt?.instanceId as number, {
      state: "running",
      startedAtMs: now,
      sshHost: "127.0.0.1",
      sshPort: 2222,
    });
    probe.failing = true;
    await readiness(jobId, 1, 0);
    now += 15 * 60_000; // 15 min of GPU at $0.30/h + disk ≈ $0.079 > $0.05
    await readiness(jobId, 1, 3);
    const job = await store.getJob(jobId);
    expect(job?.state).toBe("failed");
    expect(job?.reason).toMatch(
      /^Stopped after attempt 1 \(did not become ready within 15 min.*\): the budget of \$0\.05 is spent \(\$0\.08 used\)\.$/,
    );
    expect(job?.costBreakdown.gpuUsd).toBeCloseTo(0.3 * 0.25, 9);
    expect(job?.spentUsd).toBeCloseTo(0.3 * 0.25 + STORAGE_PER_HOUR * 0.25, 9);
    expect(vast.calls.filter((c) => c.op === "destroy").map((c) => c.arg)).toEqual([attempt?.instanceId]);
    expect(vast.count("create")).toBe(1);
    expect(queue.drain().filter((m) => m.message.type === "provision")).toEqual([]);
  });

  it("runs the pre-flight check on the pinned host with the job's needs, and records what the host has", async () => {
    const jobId = await submit({
      training: { template: "flux-lora-low-vram", params: { triggerWord: "ohwx" } },
    });
    const { attempt } = await provisionAndBoot(jobId);
    vast.setState(attempt?.instanceId as number, { state: "running", sshHost: "127.0.0.1", sshPort: 2222 });
    await readiness(jobId, 1, 0);
    expect(preflight.calls).toEqual([
      {
        target: { host: "127.0.0.1", port: 2222, expectedHostKey: "SHA256:fake" },
        requirements: {
          gpuName: "RTX 4090",
          gpuCount: 1,
          // The low-VRAM template's 12 GB, as the offer search asked it of gpu_ram: (12 - 0.5) × 1024 MiB.
          minVramMb: 11_776,
          minCudaVersion: "13.0",
          // fakeDatasets' 4,000 bytes + FLUX.1-dev's 34 GB cache + 4 GB of outputs.
          minFreeDiskBytes: 38e9 + 4000,
          workspaceDir: "/workspace",
          // Where ai-toolkit's image has it, as the template says.
          aiToolkitDir: "/app/ai-toolkit",
          pythonCommand: "python",
        },
      },
    ]);
    const ready = (await store.getTimeline(jobId)).find((t) => t.to === "pushing");
    expect(ready?.reason).toMatch(/passed the pre-flight check$/);
    expect(ready?.details).toMatchObject({
      preflight: { passed: true, host: { driverVersion: "580.95.05" } },
    });
  });

  it("a host failing the pre-flight check is destroyed, remembered with the conditions, and the next offer rented", async () => {
    const jobId = await submit();
    const { attempt } = await provisionAndBoot(jobId);
    const id = attempt?.instanceId as number;
    vast.setState(id, { state: "running", sshHost: "127.0.0.1", sshPort: 2222 });
    preflight.outcome = {
      passed: false,
      failures: [
        { condition: "driver_too_old", reason: "driver 550.54.15 is too old" },
        { condition: "disk_insufficient", reason: "9.0 GB free" },
      ],
      host: null,
    };
    queue.drain();
    await readiness(jobId, 1, 0);
    expect(vast.calls.filter((c) => c.op === "destroy").map((c) => c.arg)).toEqual([id]);
    // Vast's container log says nothing about the host's GPUs: not fetched.
    expect(vast.count("logs")).toBe(0);
    const reason =
      "pre-flight check failed: driver_too_old (driver 550.54.15 is too old); disk_insufficient (9.0 GB free)";
    expect(await store.getAttempt(jobId, 1)).toMatchObject({ outcome: "failed", failureReason: reason });
    expect(await store.recentHostFailures(10, 0)).toEqual([
      expect.objectContaining({ jobId, attempt: 1, reason }),
    ]);
    const diagnostics = (await store.getTimeline(jobId)).find((t) => t.kind === "diagnostics");
    expect(diagnostics).toMatchObject({
      reason: `attempt 1: ${reason}`,
      details: { preflight: { passed: false, failures: preflight.outcome.failures } },
    });
    expect(await store.getJob(jobId)).toMatchObject({ state: "provisioning" });
    expect(queue.drain().map((m) => m.message)).toEqual([{ type: "provision", jobId }]);

    await provisionJob(deps, jobId);
    expect(await store.getAttempt(jobId, 2)).toMatchObject({ machineId: 20, outcome: "rented" });
  });

  it("a pre-flight check that cannot reach the host is tried again, then counts toward the boot timeout", async () => {
    const jobId = await submit({ bootTimeoutMinutes: 15 });
    const { attempt } = await provisionAndBoot(jobId);
    const id = attempt?.instanceId as number;
    vast.setState(id, { state: "running", sshHost: "127.0.0.1", sshPort: 2222 });
    preflight.failing = true;
    queue.drain();
    await readiness(jobId, 1, 0);
    expect(queue.drain().map((m) => [m.message, m.delaySeconds])).toEqual([
      [{ type: "readiness", jobId, attempt: 1, check: 1 }, 3],
    ]);
    expect(vast.count("destroy")).toBe(0);
    now += 15 * 60_000;
    await readiness(jobId, 1, 1);
    expect((await store.getAttempt(jobId, 1))?.failureReason).toMatch(
      /did not become ready within 15 min \(last state 'running'; SSH: pre-flight check: connect ECONNRESET\)/,
    );
  });

  it("a pre-flight failure interrupted before the destroy is finished by the redelivery, checked once", async () => {
    const jobId = await submit();
    const { attempt } = await provisionAndBoot(jobId);
    const id = attempt?.instanceId as number;
    vast.setState(id, { state: "running", sshHost: "127.0.0.1", sshPort: 2222 });
    preflight.outcome = {
      passed: false,
      failures: [{ condition: "gpu_busy", reason: "GPU 0: 18000 MiB in use" }],
      host: null,
    };
    const terminate = vast.terminateInstance.bind(vast);
    let crashes = 1;
    vast.terminateInstance = async (instanceId) => {
      if (crashes-- > 0) throw new Error("simulated crash before the destroy");
      return terminate(instanceId);
    };
    const message = { type: "readiness" as const, jobId, attempt: 1, check: 0 };
    await expect(checkReadiness(deps, message, { messageId: "m-crash" })).rejects.toThrow(/simulated crash/);
    expect(vast.instances.has(id)).toBe(true);
    // SQS delivers the same message again.
    await checkReadiness(deps, message, { messageId: "m-crash" });
    expect(preflight.calls).toHaveLength(1);
    expect(vast.instances.has(id)).toBe(false);
    expect(await store.getAttempt(jobId, 1)).toMatchObject({
      outcome: "failed",
      failureReason: "pre-flight check failed: gpu_busy (GPU 0: 18000 MiB in use)",
    });
    expect(await store.recentHostFailures(10, 0)).toHaveLength(1);
    expect(await store.getJob(jobId)).toMatchObject({ state: "provisioning", spentUsd: expect.any(Number) });
  });

  it("abandons an instance whose SSH host key changed since first contact (never trusted again)", async () => {
    const jobId = await submit();
    const { attempt } = await provisionAndBoot(jobId);
    const id = attempt?.instanceId as number;
    await store.pinHostKey(jobId, 1, "SHA256:first");
    vast.setState(id, { state: "running", sshHost: "127.0.0.1", sshPort: 2222 });
    let expected: string | undefined;
    deps.probe = async (target) => {
      expected = target.expectedHostKey;
      throw new SshHostKeyMismatchError("127.0.0.1", 2222, "SHA256:first", "SHA256:other");
    };
    await readiness(jobId, 1, 0);
    expect(expected).toBe("SHA256:first");
    expect(await store.getAttempt(jobId, 1)).toMatchObject({
      outcome: "failed",
      failureReason: "the SSH host key changed since first contact",
    });
    expect(vast.calls.filter((c) => c.op === "destroy").map((c) => c.arg)).toEqual([id]);
    expect(await store.getJob(jobId)).toMatchObject({ state: "provisioning" });
  });
});
