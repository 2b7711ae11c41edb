import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type LocalDynamo, startDynamoLocal } from "../../../../test/support/dynamodb";
import { sampleJobRequest } from "../../../../test/support/job-request";
import { type Clock, systemClock } from "../../src/clock";
import { IllegalTransitionError } from "../../src/jobs/state-machine";
import {
  AttemptClosedError,
  AttemptEndedError,
  AttemptHoldsOtherInstanceError,
  AttemptStillOpenError,
  DynamoJobStore,
  IdempotencyConflictError,
  InstanceNotDestroyedError,
  InvalidCursorError,
  JOBS_TABLE,
  VersionConflictError,
} from "../../src/store";

let dynamo: LocalDynamo;
let store: DynamoJobStore;
// Near the real time: DynamoDB Local deletes items whose TTL (`expiresAt`, set from this clock)
// has passed, so a clock in the past makes records vanish in the middle of a test.
let now = Math.floor(Date.now() / 1000) * 1000;
const clock: Clock = { now: () => now, sleep: systemClock.sleep };

beforeAll(async () => {
  dynamo = await startDynamoLocal();
});
afterAll(async () => {
  await dynamo?.stop();
});
beforeEach(async () => {
  store = new DynamoJobStore({ client: dynamo.doc, tableName: await dynamo.createJobsTable(), clock });
});

/** Records attempt 1 of a job still at version 0. */
const startAttempt = (jobId: string) =>
  store.recordAttemptStarted(jobId, 0, {
    attempt: 1,
    offerId: 1,
    machineId: 1,
    hourlyUsd: 1,
    gpuName: null,
    label: "l",
  });

/** Adds spend to a job the way a destroyed stray instance does (once per instance id). */
let strays = 0;
async function spend(jobId: string, usd: number) {
  await store.chargeStray({
    jobId,
    instanceId: ++strays,
    attempt: 1,
    at: now,
    cost: { gpuUsd: usd, storageUsd: 0, bandwidthUsd: 0 },
    reason: "test",
  });
}

const newJob = (jobId: string, overrides = {}) => ({
  jobId,
  request: sampleJobRequest(overrides),
  requestHash: `hash-${JSON.stringify(overrides)}`,
});

describe("createTable", () => {
  it("builds the table from the one definition: keys, the state index, TTL", async () => {
    const { DescribeTableCommand, DescribeTimeToLiveCommand } = await import("@aws-sdk/client-dynamodb");
    const name = await dynamo.createJobsTable();
    const { Table } = await dynamo.client.send(new DescribeTableCommand({ TableName: name }));
    expect(Table?.KeySchema).toEqual([
      { AttributeName: JOBS_TABLE.partitionKey, KeyType: "HASH" },
      { AttributeName: JOBS_TABLE.sortKey, KeyType: "RANGE" },
    ]);
    expect(
      Table?.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.KeySchema?.map((k) => k.AttributeName)]),
    ).toEqual([
      [JOBS_TABLE.stateIndex.name, [JOBS_TABLE.stateIndex.partitionKey, JOBS_TABLE.stateIndex.sortKey]],
    ]);
    const ttl = await dynamo.client.send(new DescribeTimeToLiveCommand({ TableName: name }));
    expect(ttl.TimeToLiveDescription).toMatchObject({
      AttributeName: JOBS_TABLE.ttlAttribute,
      TimeToLiveStatus: "ENABLED",
    });
  });
});

describe("DynamoJobStore", () => {
  it("creates a queued job at version 0 with a deadline and a timeline entry", async () => {
    const { job, created } = await store.createJob(newJob("j1"));
    expect(created).toBe(true);
    expect(job).toMatchObject({ state: "queued", version: 0, attempt: 0, spentUsd: 0 });
    expect(job.deadlineAt - job.createdAt).toBe(240 * 60_000);
    expect(await store.getJob("j1")).toEqual(job);
    const timeline = await store.getTimeline("j1");
    expect(timeline).toHaveLength(1);
    expect(timeline[0]).toMatchObject({ kind: "transition", to: "queued" });
  });

  it("works with a document client that keeps undefined values (optional request fields unset)", async () => {
    const { DynamoDBDocumentClient } = await import("@aws-sdk/lib-dynamodb");
    const plain = new DynamoJobStore({
      client: DynamoDBDocumentClient.from(dynamo.client),
      tableName: (store as unknown as { table: string }).table,
      clock,
    });
    const { job } = await plain.createJob(newJob("plain", { minVramGb: undefined, callbackUrl: undefined }));
    expect(job.request.minVramGb).toBeUndefined();
    expect((await plain.getJob("plain"))?.state).toBe("queued");
  });

  it("de-duplicates on the idempotency key: same body → same job, other body → conflict", async () => {
    const first = await store.createJob({ ...newJob("j1", { idempotencyKey: "k-1" }), requestHash: "h" });
    const again = await store.createJob({ ...newJob("j2", { idempotencyKey: "k-1" }), requestHash: "h" });
    expect(again.created).toBe(false);
    expect(again.job.jobId).toBe(first.job.jobId);
    expect(await store.getJob("j2")).toBeNull();
    await expect(
      store.createJob({ ...newJob("j3", { idempotencyKey: "k-1" }), requestHash: "other" }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    expect(await store.getJob("j3")).toBeNull();
  });

  it("gives concurrent submissions with one idempotency key one job, never an error", async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        store.createJob({ ...newJob(`race${i}`, { idempotencyKey: "k-race" }), requestHash: "h" }),
      ),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.job.jobId)).size).toBe(1);
  });

  it("refuses a second job with the same id", async () => {
    await store.createJob(newJob("j1"));
    await expect(store.createJob(newJob("j1"))).rejects.toThrow();
  });

  it("transitions only from the expected version, and appends to the timeline", async () => {
    await store.createJob(newJob("j1"));
    now += 1000;
    const job = await store.transition("j1", 0, { type: "provision_started", reason: "picked up" });
    expect(job).toMatchObject({ state: "provisioning", version: 1, reason: "picked up" });
    await expect(store.transition("j1", 0, { type: "fail", reason: "stale" })).rejects.toBeInstanceOf(
      VersionConflictError,
    );
    await expect(store.transition("j1", 1, { type: "training_started", reason: "x" })).rejects.toBeInstanceOf(
      IllegalTransitionError,
    );
    expect((await store.getJob("j1"))?.state).toBe("provisioning");
    const timeline = await store.getTimeline("j1");
    expect(timeline.map((t) => t.to)).toEqual(["queued", "provisioning"]);
  });

  it("lets exactly one of two concurrent writers win a transition", async () => {
    await store.createJob(newJob("j1"));
    const results = await Promise.allSettled([
      store.transition("j1", 0, { type: "provision_started", reason: "a" }),
      store.transition("j1", 0, { type: "cancel", reason: "b" }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((r) => r.status === "rejected");
    expect(rejected?.status === "rejected" && rejected.reason).toBeInstanceOf(VersionConflictError);
    expect((await store.getJob("j1"))?.version).toBe(1);
  });

  it("finds active jobs by state through the index, and drops finished ones from it", async () => {
    await store.createJob(newJob("a"));
    now += 1;
    await store.createJob(newJob("b"));
    now += 1;
    await store.createJob(newJob("c"));
    await store.transition("c", 0, { type: "provision_started", reason: "go" });
    expect((await store.listActiveJobs("queued")).jobs.map((j) => j.jobId)).toEqual(["a", "b"]);
    const page1 = await store.listActiveJobs("queued", { limit: 1 });
    expect(page1.jobs.map((j) => j.jobId)).toEqual(["a"]);
    expect(page1.cursor).not.toBeNull();
    const page2 = await store.listActiveJobs("queued", { limit: 1, cursor: page1.cursor ?? undefined });
    expect(page2.jobs.map((j) => j.jobId)).toEqual(["b"]);
    await store.transition("a", 0, { type: "cancel", reason: "user asked" });
    expect((await store.listActiveJobs("queued")).jobs.map((j) => j.jobId)).toEqual(["b"]);
  });

  it("sets the TTL attribute when a job finishes, and its final cost from what was spent", async () => {
    await store.createJob(newJob("j1"));
    await spend("j1", 0.25);
    await store.transition("j1", 1, { type: "fail", reason: "no offers" });
    const { Item } = await dynamo.doc.send(
      new (await import("@aws-sdk/lib-dynamodb")).GetCommand({
        TableName: (store as unknown as { table: string }).table,
        Key: { pk: "JOB#j1", sk: "JOB" },
      }),
    );
    expect(Item?.expiresAt).toBeGreaterThan(now / 1000);
    // Out of the reaper's partitions, still listable by state until TTL removes it.
    expect(Item?.gsi1pk).toBe("ENDED#failed");
    expect(Item?.spentUsd).toBeCloseTo(0.25);
    expect(Item?.costUsd).toBeCloseTo(0.25);
  });

  it("writes the result with the final transition: cost, artifact and end time in the same write", async () => {
    const artifact = {
      bucket: "b",
      key: "artifacts/j1/j1.safetensors",
      bytes: 4104,
      sha256: "ab".repeat(32),
    };
    await store.createJob(newJob("j1"));
    const started = await store.transition("j1", 0, { type: "provision_started", reason: "go" });
    expect(started).toMatchObject({ costUsd: null, artifact: null, endedAt: null });
    now += 1000;
    await spend("j1", 0.5);
    await store.transition("j1", 2, { type: "fail", reason: "x" }, { artifact });
    // A failed job keeps no artifact, even if one is offered.
    expect(await store.getJob("j1")).toMatchObject({
      state: "failed",
      costUsd: 0.5,
      artifact: null,
      endedAt: now,
    });

    await store.createJob(newJob("j2"));
    let job = await store.transition("j2", 0, { type: "provision_started", reason: "go" });
    const path = ["instance_created", "instance_ready", "training_started", "training_finished"] as const;
    for (const type of path) job = await store.transition("j2", job.version, { type, reason: type });
    expect(job).toMatchObject({ state: "collecting", costUsd: null, artifact: null, endedAt: null });
    await spend("j2", 1.25);
    const done = await store.transition(
      "j2",
      job.version + 1,
      { type: "artifact_collected", reason: "stored" },
      { artifact },
    );
    expect(done).toMatchObject({ state: "succeeded", spentUsd: 1.25, costUsd: 1.25, artifact, endedAt: now });
    expect(await store.getJob("j2")).toEqual(done);
  });

  it("ends an attempt and charges the job once, in one write conditional on the version", async () => {
    await store.createJob(newJob("j1"));
    let job = await store.transition("j1", 0, { type: "provision_started", reason: "go" });
    const attempt = { attempt: 1, offerId: 1, machineId: 2, hourlyUsd: 0.6, gpuName: null, label: "l" };
    job = await store.recordAttemptStarted("j1", job.version, attempt);
    await store.recordInstanceId("j1", 1, 99);
    const cost = { gpuUsd: 0.25, storageUsd: 0.04, bandwidthUsd: 0.01 };
    const end = { outcome: "failed" as const, endedAt: now, cost, failureReason: "boot timeout" };
    // Not before Vast accepted the destroy: an attempt cannot end holding a live instance.
    await expect(store.endAttempt("j1", job.version, 1, end)).rejects.toBeInstanceOf(
      InstanceNotDestroyedError,
    );
    await store.markDestroyed("j1", 1, now);
    await expect(store.endAttempt("j1", job.version + 1, 1, end)).rejects.toBeInstanceOf(
      VersionConflictError,
    );
    const first = await store.endAttempt("j1", job.version, 1, end);
    expect(first.charged).toBe(true);
    expect(first.job).toMatchObject({
      spentUsd: 0.3,
      version: job.version + 1,
      costUsd: null,
      costBreakdown: cost,
    });
    expect(first.attempt).toMatchObject({ outcome: "failed", endedAt: now, costUsd: 0.3, cost });
    expect(await store.getJob("j1")).toEqual(first.job);
    // A redelivery (even with a later price) charges nothing and keeps the first price.
    const again = await store.endAttempt("j1", first.job.version, 1, {
      ...end,
      cost: { ...cost, gpuUsd: 0.85 },
    });
    expect(again).toMatchObject({ charged: false, job: first.job, attempt: { costUsd: 0.3 } });
    expect((await store.getJob("j1"))?.spentUsd).toBeCloseTo(0.3);

    // The job may end now that its attempt has, and its final cost is what was charged.
    const cancelled = await store.transition("j1", first.job.version, { type: "cancel", reason: "user" });
    expect(cancelled.costUsd).toBeCloseTo(0.3);
  });

  it("refuses to end a job, or to start another attempt, while its latest attempt is open", async () => {
    await store.createJob(newJob("j1"));
    let job = await store.transition("j1", 0, { type: "provision_started", reason: "go" });
    const attempt = { attempt: 1, offerId: 1, machineId: 2, hourlyUsd: 0.6, gpuName: null, label: "l" };
    job = await store.recordAttemptStarted("j1", job.version, attempt);
    for (const type of ["fail", "cancel"] as const) {
      await expect(store.transition("j1", job.version, { type, reason: "x" })).rejects.toBeInstanceOf(
        AttemptStillOpenError,
      );
    }
    await expect(
      store.recordAttemptStarted("j1", job.version, { ...attempt, attempt: 2, label: "l2" }),
    ).rejects.toBeInstanceOf(AttemptStillOpenError);
    expect(await store.getJob("j1")).toEqual(job);
    // An attempt that rented nothing ends without a destroy.
    const ended = await store.endAttempt("j1", job.version, 1, {
      outcome: "not_rented",
      endedAt: now,
      cost: { gpuUsd: 0, storageUsd: 0, bandwidthUsd: 0 },
    });
    // Once ended, it can no longer take an instance: a create that completes late is nobody's.
    await expect(store.recordInstanceId("j1", 1, 55)).rejects.toBeInstanceOf(AttemptEndedError);
    expect(await store.findJobByInstanceId(55)).toBeNull();
    const next = await store.recordAttemptStarted("j1", ended.job.version, {
      ...attempt,
      attempt: 2,
      label: "l2",
    });
    expect(next.attempt).toBe(2);
    const failed = await store.transition("j1", next.version, { type: "fail", reason: "y" }).catch((e) => e);
    expect(failed).toBeInstanceOf(AttemptStillOpenError);
  });

  it("keeps accepted destroys on a list until they are verified", async () => {
    await store.createJob(newJob("j1"));
    let job = await store.transition("j1", 0, { type: "provision_started", reason: "go" });
    job = await store.recordAttemptStarted("j1", job.version, {
      attempt: 1,
      offerId: 1,
      machineId: 2,
      hourlyUsd: 0.6,
      gpuName: null,
      label: "l",
    });
    await store.recordInstanceId("j1", 1, 77);
    expect(await store.listUnverifiedDestroys()).toEqual([]);
    const marked = await store.markDestroyed("j1", 1, now);
    expect(marked.destroyedAt).toBe(now);
    // The first destroy time stands.
    expect((await store.markDestroyed("j1", 1, now + 5))?.destroyedAt).toBe(now);
    expect(await store.listUnverifiedDestroys()).toEqual([
      { jobId: "j1", attempt: 1, instanceId: 77, destroyedAt: now },
    ]);
    await store.markDestroyVerified("j1", 1, now + 60_000);
    expect(await store.listUnverifiedDestroys()).toEqual([]);
    expect(await store.getAttempt("j1", 1)).toMatchObject({
      destroyedAt: now,
      destroyVerifiedAt: now + 60_000,
    });
  });

  it("claims readiness checks in increasing order, once each (a redelivery may redo its own)", async () => {
    await store.createJob(newJob("j1"));
    await startAttempt("j1");
    expect(await store.claimReadinessCheck("j1", 1, 0, "m1", now)).toBe(true);
    expect(await store.claimReadinessCheck("j1", 1, 0, "m2", now)).toBe(false);
    expect(await store.claimReadinessCheck("j1", 1, 0, "m1", now)).toBe(true);
    expect(await store.claimReadinessCheck("j1", 1, 2, "m3", now + 1)).toBe(true);
    expect(await store.claimReadinessCheck("j1", 1, 1, "m4", now + 2)).toBe(false);
    expect(await store.getAttempt("j1", 1)).toMatchObject({ readinessCheck: 2, readinessCheckAt: now + 1 });
  });

  it("charges a stray instance to its job once, into its final cost when it has ended", async () => {
    await store.createJob(newJob("j1"));
    const job = await store.transition("j1", 0, { type: "cancel", reason: "user" });
    const charge = {
      jobId: "j1",
      instanceId: 42,
      attempt: 1,
      at: now,
      cost: { gpuUsd: 0.1, storageUsd: 0.02, bandwidthUsd: 0 },
      reason: "late create",
    };
    expect(await store.chargeStray(charge)).toBe(true);
    expect(await store.chargeStray({ ...charge, cost: { gpuUsd: 9, storageUsd: 0, bandwidthUsd: 0 } })).toBe(
      false,
    );
    expect(await store.getJob("j1")).toMatchObject({
      state: "cancelled",
      version: job.version + 1,
      costBreakdown: { gpuUsd: 0.1, storageUsd: 0.02, bandwidthUsd: 0 },
    });
    expect((await store.getJob("j1"))?.costUsd).toBeCloseTo(0.12, 9);
  });

  it("reads many jobs and attempts in one batch, leaving out missing ones", async () => {
    for (const id of ["a", "b", "c"]) await store.createJob(newJob(id));
    await startAttempt("b");
    const ids = Array.from({ length: 150 }, (_, i) => `missing-${i}`);
    expect((await store.getJobs([...ids, "c", "a", "a"])).map((j) => j.jobId).sort()).toEqual(["a", "c"]);
    expect(
      (
        await store.getAttempts([
          { jobId: "b", attempt: 1 },
          { jobId: "a", attempt: 1 },
        ])
      ).map((a) => a.jobId),
    ).toEqual(["b"]);
  });

  it("lists jobs by state, newest first, across states with one cursor; refuses a forged cursor", async () => {
    for (const id of ["a", "b", "c", "d"]) {
      now += 1000;
      await store.createJob(newJob(id, { budgetUsd: 10 + id.charCodeAt(0) }));
    }
    await store.transition("b", 0, { type: "cancel", reason: "user" });
    await store.transition("c", 0, { type: "provision_started", reason: "go" });
    const ids = (page: { jobs: { jobId: string }[] }) => page.jobs.map((j) => j.jobId);
    expect(ids(await store.listJobs({ states: ["queued"] }))).toEqual(["d", "a"]);
    expect(ids(await store.listJobs({ states: ["cancelled"] }))).toEqual(["b"]);
    // All states, two at a time: queued (d, a), then provisioning (c), … cancelled (b).
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.listJobs({ limit: 2, cursor });
      seen.push(...ids(page));
      cursor = page.cursor ?? undefined;
      pages++;
    } while (cursor);
    expect(seen).toEqual(["d", "a", "c", "b"]);
    // Full pages of two; a last page may come back empty when the previous one ended exactly full.
    expect(pages).toBeLessThanOrEqual(3);
    await expect(store.listJobs({ cursor: "not-a-cursor" })).rejects.toBeInstanceOf(InvalidCursorError);
    const forged = (position: unknown) => Buffer.from(JSON.stringify(position)).toString("base64url");
    for (const position of [
      { index: 99, key: null },
      { index: 0, key: { pk: "JOB#a", sk: "JOB", gsi1pk: "STATE#failed", gsi1sk: "1" } },
      { index: 0, key: { pk: 1, sk: "JOB", gsi1pk: "STATE#queued", gsi1sk: "1" } },
      { index: 0, key: { pk: "JOB#a", sk: "JOB", gsi1pk: "STATE#queued", gsi1sk: "1", extra: "x" } },
    ]) {
      await expect(store.listJobs({ cursor: forged(position) })).rejects.toBeInstanceOf(InvalidCursorError);
    }
  });

  it("records an id once while its record lives", async () => {
    expect(await store.recordOnce("vast-webhook", "evt-1", 3600)).toBe(true);
    expect(await store.recordOnce("vast-webhook", "evt-1", 3600)).toBe(false);
    expect(await store.recordOnce("signed-submission", "evt-1", 3600)).toBe(true);
  });

  it("forgets a recorded id: only that kind and id is new again, and forgetting nothing is no error", async () => {
    expect(await store.recordOnce("vast-webhook", "evt-2", 3600)).toBe(true);
    expect(await store.recordOnce("signed-submission", "evt-2", 3600)).toBe(true);
    await store.forgetOnce("vast-webhook", "evt-2");
    expect(await store.recordOnce("vast-webhook", "evt-2", 3600)).toBe(true);
    expect(await store.recordOnce("signed-submission", "evt-2", 3600)).toBe(false);
    await expect(store.forgetOnce("vast-webhook", "never-recorded")).resolves.toBeUndefined();
  });

  it("remembers when an orphan was first seen", async () => {
    expect(await store.orphanFirstSeen(5, now)).toBe(now);
    expect(await store.orphanFirstSeen(5, now + 1000)).toBe(now);
    expect(await store.orphanFirstSeen(6, now + 2000)).toBe(now + 2000);
  });

  it("changes an open attempt only, and lets its ending begin once (the first intent stands)", async () => {
    await store.createJob(newJob("j1"));
    await startAttempt("j1");
    expect(await store.updateAttempt("j1", 1, { runningSince: now })).toMatchObject({ runningSince: now });
    const intent = { next: "retry" as const, event: null, reason: "boot timeout", hostFailure: true };
    const ending = await store.requestAttemptEnd("j1", 1, intent, now + 1);
    expect(ending).toMatchObject({ endRequestedAt: now + 1, endIntent: intent });
    const second = await store.requestAttemptEnd(
      "j1",
      1,
      { next: "finish", event: "cancel", reason: "user", hostFailure: false },
      now + 2,
    );
    expect(second).toMatchObject({ endRequestedAt: now + 1, endIntent: intent });
    await expect(store.updateAttempt("j1", 1, { outcome: "ready" })).rejects.toBeInstanceOf(
      AttemptClosedError,
    );
    // An ending attempt takes no instance: a create that lands now is a stray.
    await expect(store.recordInstanceId("j1", 1, 77)).rejects.toBeInstanceOf(AttemptEndedError);
  });

  it("records an attempt before create, once per number and version, then its one instance", async () => {
    await store.createJob(newJob("j1"));
    await store.transition("j1", 0, { type: "provision_started", reason: "go" });
    const attempt = {
      attempt: 1,
      offerId: 77,
      machineId: 5,
      hourlyUsd: 0.4,
      gpuName: "RTX 4090",
      label: "l1",
    };
    const job = await store.recordAttemptStarted("j1", 1, attempt);
    expect(job).toMatchObject({ attempt: 1, version: 2 });
    await expect(store.recordAttemptStarted("j1", 1, attempt)).rejects.toBeInstanceOf(VersionConflictError);
    await expect(store.recordAttemptStarted("j1", 2, attempt)).rejects.toBeInstanceOf(VersionConflictError);
    expect(await store.getAttempt("j1", 1)).toMatchObject({
      outcome: "pending",
      instanceId: null,
      label: "l1",
    });

    const rented = await store.recordInstanceId("j1", 1, 1234);
    expect(rented).toMatchObject({ outcome: "rented", instanceId: 1234 });
    expect(await store.recordInstanceId("j1", 1, 1234)).toMatchObject({ instanceId: 1234 });
    await expect(store.recordInstanceId("j1", 1, 999)).rejects.toBeInstanceOf(AttemptHoldsOtherInstanceError);
    expect(await store.findJobByInstanceId(1234)).toEqual({ instanceId: 1234, jobId: "j1", attempt: 1 });
    expect(await store.findJobByInstanceId(999)).toBeNull();
    expect((await store.listAttempts("j1")).map((a) => a.attempt)).toEqual([1]);
  });

  it("pins the first host key and keeps it", async () => {
    await store.createJob(newJob("j1"));
    await startAttempt("j1");
    expect(await store.pinHostKey("j1", 1, "SHA256:first")).toBe("SHA256:first");
    expect(await store.pinHostKey("j1", 1, "SHA256:second")).toBe("SHA256:first");
    expect((await store.getAttempt("j1", 1))?.hostKeyFingerprint).toBe("SHA256:first");
  });

  it("records host failures once per attempt and answers recent-window queries", async () => {
    const at = now;
    expect(
      await store.recordHostFailure({ machineId: 9, jobId: "j1", attempt: 1, at, reason: "stuck" }),
    ).toBe(true);
    expect(
      await store.recordHostFailure({ machineId: 9, jobId: "j1", attempt: 1, at, reason: "stuck" }),
    ).toBe(false);
    await store.recordHostFailure({
      machineId: 8,
      jobId: "j2",
      attempt: 1,
      at: at - 3_600_000,
      reason: "old",
    });
    expect((await store.recentHostFailures(9, at - 1000)).map((f) => f.reason)).toEqual(["stuck"]);
    expect(await store.recentHostFailures(8, at - 1000)).toEqual([]);
    expect([...(await store.recentlyFailedMachines(at - 1000))]).toEqual([9]);
    expect([...(await store.recentlyFailedMachines(at - 7_200_000))].sort()).toEqual([8, 9]);
  });

  it("grants a lease to one owner until it expires or is released", async () => {
    expect(await store.acquireLease("j1", "push", "a", 10_000)).toBe(true);
    expect(await store.acquireLease("j1", "push", "b", 10_000)).toBe(false);
    expect(await store.acquireLease("j1", "push", "a", 10_000)).toBe(true);
    now += 10_001;
    expect(await store.acquireLease("j1", "push", "b", 10_000)).toBe(true);
    await store.releaseLease("j1", "push", "a");
    expect(await store.acquireLease("j1", "push", "a", 10_000)).toBe(false);
    await store.releaseLease("j1", "push", "b");
    expect(await store.acquireLease("j1", "push", "a", 10_000)).toBe(true);
    expect(await store.getLease("j1", "push")).toEqual({ owner: "a", leaseUntil: now + 10_000 });
    expect(await store.getLease("j1", "other")).toBeNull();
    // System-wide leases (the reaper's run) work the same, apart from any job.
    expect(await store.acquireSystemLease("reaper", "r1", 5_000)).toBe(true);
    expect(await store.acquireSystemLease("reaper", "r2", 5_000)).toBe(false);
    await store.releaseSystemLease("reaper", "r1");
    expect(await store.acquireSystemLease("reaper", "r2", 5_000)).toBe(true);
  });
});
