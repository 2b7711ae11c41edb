import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type LocalDynamo, startDynamoLocal } from "../../../../test/support/dynamodb";
import { sampleJobRequestInput } from "../../../../test/support/job-request";
import { InMemoryEventPublisher } from "../../src/events";
import {
  JobRequestSchema,
  JobValidationError,
  requestHash,
  submitJob,
  validateJobRequest,
} from "../../src/jobs";
import { silentLogger } from "../../src/observability";
import { InMemoryJobQueue } from "../../src/queue";
import { DynamoJobStore, IdempotencyConflictError } from "../../src/store";

let dynamo: LocalDynamo;
let store: DynamoJobStore;
let queue: InMemoryJobQueue;
let events: InMemoryEventPublisher;
const deps = () => ({ store, queue, events, logger: silentLogger });

beforeAll(async () => {
  dynamo = await startDynamoLocal();
});
afterAll(async () => {
  await dynamo?.stop();
});
beforeEach(async () => {
  store = new DynamoJobStore({ client: dynamo.doc, tableName: await dynamo.createJobsTable() });
  queue = new InMemoryJobQueue();
  events = new InMemoryEventPublisher();
});

describe("validateJobRequest", () => {
  it("applies defaults", () => {
    const request = validateJobRequest(sampleJobRequestInput());
    expect(request).toMatchObject({
      numGpus: 1,
      minReliability: 0.95,
      bootTimeoutMinutes: 15,
      maxAttempts: 3,
      diskGb: 64,
    });
  });

  it.each([
    [{ maxHourlyUsd: -1 }, "maxHourlyUsd: maxHourlyUsd must be greater than 0"],
    [{ gpuType: "" }, "gpuType: gpuType is required"],
    [{ gpuType: "Banana 9000" }, 'Unknown GPU type "Banana 9000"'],
    [{ region: "Atlantis" }, 'Unknown region "Atlantis"'],
    [{ callbackUrl: "http://example.com/hook" }, "callbackUrl: callbackUrl must use https"],
    [{ numGpus: 1.5 }, "numGpus:"],
    [{ budgetUsd: 0 }, "budgetUsd: budgetUsd must be greater than 0"],
    [{ image: "ubuntu; rm -rf /" }, "image: image must be a Docker image reference"],
    [{ idempotencyKey: "a b" }, "idempotencyKey: idempotencyKey may contain only"],
    [{ dataset: { kind: "s3", bucket: "b-1", prefix: "../etc" } }, "'..' path segments are not allowed"],
    [
      { dataset: { kind: "local", path: "/data" } },
      "dataset: local folders are only accepted by the local stack",
    ],
    [{ training: { params: { triggerWord: "x", steps: 5 } } }, "training.params.steps"],
    [{ surprise: true }, 'Unrecognized key: "surprise"'],
  ])("refuses %j with a precise message", (override, message) => {
    const body = { ...sampleJobRequestInput(), ...override };
    expect(() => validateJobRequest(body)).toThrow(JobValidationError);
    expect(() => validateJobRequest(body)).toThrow(message);
  });

  it("refuses a body that is not an object", () => {
    expect(() => validateJobRequest("nope")).toThrow(JobValidationError);
    expect(() => validateJobRequest(null)).toThrow(JobValidationError);
  });

  it("accepts GPU aliases and region codes the offer query knows", () => {
    expect(validateJobRequest(sampleJobRequestInput({ gpuType: "4090", region: "DE" })).gpuType).toBe("4090");
  });

  it("hashes equal requests equally whatever the key order or defaults", () => {
    const a = JobRequestSchema.parse(sampleJobRequestInput({ numGpus: 1 }));
    const b = JobRequestSchema.parse({ ...sampleJobRequestInput(), idempotencyKey: "x" });
    expect(requestHash(a)).toBe(requestHash(b));
    expect(requestHash(a)).not.toBe(
      requestHash(JobRequestSchema.parse(sampleJobRequestInput({ budgetUsd: 21 }))),
    );
  });
});

describe("submitJob", () => {
  it("completes a submission whose first try failed after storing the job", async () => {
    const body = sampleJobRequestInput({ idempotencyKey: "order-7" });
    const failing = { ...deps(), queue: { enqueue: () => Promise.reject(new Error("SQS unavailable")) } };
    await expect(submitJob(failing, body)).rejects.toThrow("SQS unavailable");
    expect(events.events).toEqual([]);
    const retried = await submitJob(deps(), body);
    expect(retried).toMatchObject({ status: "queued", created: false });
    expect(queue.sent).toEqual([
      { queue: "provision", message: { type: "provision", jobId: retried.jobId }, delaySeconds: 0 },
    ]);
    expect(events.of("Job Submitted").map((e) => e.jobId)).toEqual([retried.jobId]);
  });

  it("does not announce again once the job has moved on", async () => {
    const body = sampleJobRequestInput({ idempotencyKey: "order-8" });
    const first = await submitJob(deps(), body);
    const job = (await store.getJob(first.jobId))!;
    await store.transition(first.jobId, job.version, { type: "provision_started", reason: "test" });
    await submitJob(deps(), body);
    expect(events.of("Job Submitted")).toHaveLength(1);
    expect(queue.sent).toHaveLength(1);
  });

  it("stores the job, enqueues provision and announces it", async () => {
    const result = await submitJob(deps(), sampleJobRequestInput());
    expect(result).toMatchObject({ status: "queued", created: true });
    expect(result.jobId).toMatch(/^job_[0-9a-z]+$/);
    expect(await store.getJob(result.jobId)).toMatchObject({ state: "queued" });
    expect(queue.sent).toEqual([
      { queue: "provision", message: { type: "provision", jobId: result.jobId }, delaySeconds: 0 },
    ]);
    expect(events.events).toEqual([
      {
        detailType: "Job Submitted",
        detail: {
          jobId: result.jobId,
          status: "queued",
          gpuType: "RTX 4090",
          maxHourlyUsd: 1,
          budgetUsd: 20,
        },
      },
    ]);
  });

  it("stores nothing and sends nothing for bad input", async () => {
    await expect(submitJob(deps(), { ...sampleJobRequestInput(), maxHourlyUsd: "1" })).rejects.toThrow(
      JobValidationError,
    );
    expect(queue.sent).toEqual([]);
    expect(events.events).toEqual([]);
    expect((await store.listActiveJobs("queued")).jobs).toEqual([]);
  });

  it("de-duplicates on the idempotency key", async () => {
    const body = sampleJobRequestInput({ idempotencyKey: "order-42" });
    const first = await submitJob(deps(), body);
    const second = await submitJob(deps(), { ...body });
    expect(second).toEqual({ ...first, created: false });
    // Still queued: provision is sent and the job announced again, in case the first try failed.
    expect(events.of("Job Submitted")).toHaveLength(2);
    expect(queue.sent).toHaveLength(2);
    await expect(submitJob(deps(), { ...body, budgetUsd: 99 })).rejects.toBeInstanceOf(
      IdempotencyConflictError,
    );
  });
});
