/**
 * End to end through the local stack (`packages/local`, what `npm start` runs): the HTTP API, the
 * queue workers feeding the deployed handlers over fauxqs, the poller on its timer, the event bus,
 * DynamoDB Local and the Vast simulator with real SSH. Every scenario goes in through a front door
 * (a signed webhook, an API key, an EventBridge event, a Vast notification) and ends by checking
 * the money invariants of docs/architecture.md#invariants against the simulator's record of every
 * instance. Time is real: the simulator boots in 3 s and trains in 6 s, the poller runs every second.
 */

import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobView } from "../../packages/core/src/api";
import { type Logger, silentLogger } from "../../packages/core/src/observability";
import { type LocalStack, startLocalStack } from "../../packages/local/src";
import { SAMPLE_DATASET, sampleJobRequest } from "../../packages/local/src/sample/job";
import { submitSigned, uploadSampleDataset } from "../../packages/local/src/sample/run";
import { fetchJob } from "../../packages/local/src/status/follow";
import { checkMoneyInvariants } from "../support/invariants";
import { pollUntil } from "../support/poll";

let stack: LocalStack;
const savedLogLevel = process.env.POWERTOOLS_LOG_LEVEL;
/** The stack's own warnings, kept to show when a scenario fails. */
const warnings: string[] = [];
const logger: Logger = {
  ...silentLogger,
  warn: (message: string, extra?: unknown) => void warnings.push(`${message} ${JSON.stringify(extra ?? {})}`),
  error: (message: string, extra?: unknown) =>
    void warnings.push(`${message} ${JSON.stringify(extra ?? {})}`),
} as Logger;

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
  stack = await startLocalStack({
    logger,
    pollIntervalSeconds: 1,
    orphanGraceSeconds: 4,
    receiveWaitSeconds: 1,
    vast: { kind: "simulator", seed: 7, trainingSeconds: 6, provisioningSeconds: 1, loadingSeconds: 2 },
  });
  await uploadSampleDataset(stack.aws.s3, SAMPLE_DATASET);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  if (savedLogLevel === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
  else process.env.POWERTOOLS_LOG_LEVEL = savedLogLevel;
});

const keyed = (init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { authorization: `Bearer ${stack.apiKey}`, "content-type": "application/json", ...init.headers },
});

const view = (jobId: string) => fetchJob(stack.apiUrl, stack.apiKey, jobId);

/** Waits for the job to satisfy `done`; fails with its last view and the stack's warnings. */
async function waitFor(jobId: string, done: (v: JobView) => boolean, timeoutMs = 60_000): Promise<JobView> {
  let last: JobView | undefined;
  const found = await pollUntil(
    async () => {
      last = await view(jobId);
      return done(last) ? last : undefined;
    },
    timeoutMs,
    250,
  );
  if (!found) {
    throw new Error(
      `job ${jobId} stuck in ${last?.state} (${last?.reason}); warnings:\n${warnings.slice(-10).join("\n")}`,
    );
  }
  return found;
}

const ended = (v: JobView) => ["succeeded", "failed", "cancelled"].includes(v.state);

/** Every instance the simulator ever made is accounted for, and the ones of `jobId` are destroyed. */
async function expectInvariants(jobId?: string): Promise<void> {
  // The poller's next pass settles anything a step left to it (a destroy to verify, say).
  const report = await pollUntil(async () => {
    const r = await checkMoneyInvariants(stack.sim!, stack.deps.store);
    return r.violations.length === 0 ? r : undefined;
  }, 10_000);
  expect(report?.violations ?? (await checkMoneyInvariants(stack.sim!, stack.deps.store)).violations).toEqual(
    [],
  );
  if (jobId) {
    const mine = stack.sim!.admin.instances().filter((i) => i.label?.includes(jobId));
    expect(mine.length).toBeGreaterThan(0);
    for (const instance of mine) expect(instance.destroyedAtMs, `instance ${instance.id}`).not.toBeNull();
  }
}

describe("the local stack, end to end", () => {
  it("takes a signed webhook job to succeeded: LoRA in S3, instance destroyed, cost recorded", async () => {
    const { jobId } = await submitSigned(stack.apiUrl, stack.submissionSecret, sampleJobRequest());
    const done = await waitFor(jobId, ended);
    expect(done.state).toBe("succeeded");
    expect(done.upload).toMatchObject({ done: true, bytes: expect.any(Number) });
    expect(done.progress?.fraction).toBeGreaterThan(0);
    const artifact = done.artifact!;
    const head = await stack.aws.s3.send(
      new HeadObjectCommand({ Bucket: artifact.bucket, Key: artifact.key }),
    );
    expect(head.ContentLength).toBe(artifact.bytes);
    expect(done.cost.finalUsd).toBeGreaterThan(0);
    // As Vast bills it: the simulator's ledger of the job's instance, to within 2 %.
    const instanceId = done.attempts[0]!.instanceId!;
    const ledger = stack.sim!.admin.ledger().instances.find((l) => l.instanceId === instanceId)!;
    const billedUsd = ledger.totalMicros / 1e6;
    expect(Math.abs(done.cost.finalUsd! - billedUsd) / billedUsd).toBeLessThan(0.02);
    await expectInvariants(jobId);
  });

  it("cancels a job mid-training through the API: the instance is destroyed", async () => {
    const submitted = await fetch(
      `${stack.apiUrl}/v1/jobs`,
      keyed({ method: "POST", body: JSON.stringify(sampleJobRequest()) }),
    );
    expect(submitted.status).toBe(202);
    const { jobId } = (await submitted.json()) as { jobId: string };
    const training = await waitFor(jobId, (v) => v.state === "training" || ended(v));
    expect(training.state).toBe("training");
    // Long enough training that the cancel lands mid-run.
    await stack.sim!.admin.setTrainingBehaviour(training.instance!.instanceId, { durationSeconds: 600 });
    const cancel = await fetch(
      `${stack.apiUrl}/v1/jobs/${jobId}/cancel`,
      keyed({ method: "POST", body: JSON.stringify({ reason: "changed my mind" }) }),
    );
    expect(cancel.status).toBe(200);
    const done = await waitFor(jobId, ended);
    expect(done).toMatchObject({ state: "cancelled", artifact: null });
    expect(done.reason).toContain("changed my mind");
    await expectInvariants(jobId);
  });

  it("fails a job that reaches its budget, and destroys its instance", async () => {
    const { jobId } = await submitSigned(
      stack.apiUrl,
      stack.submissionSecret,
      sampleJobRequest({ budgetUsd: 0.0004 }),
    );
    const done = await waitFor(jobId, ended);
    expect(done.state).toBe("failed");
    expect(done.reason).toMatch(/budget/i);
    expect(done.cost.finalUsd!).toBeLessThan(0.0004 * 3);
    await expectInvariants(jobId);
  });

  it("reaps an orphan: an instance with our label that no job knows", async () => {
    const offer = stack.sim!.admin.offers().find((o) => o.rentable);
    const response = await fetch(`${stack.vastUrl}/api/v0/asks/${offer!.id}/`, {
      method: "PUT",
      headers: { authorization: `Bearer ${stack.vastKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        client_id: "me",
        image: "ubuntu:22.04",
        disk: 16,
        label: "vast-rental:job_orphan:1",
      }),
    });
    expect(response.status).toBe(200);
    const { new_contract: instanceId } = (await response.json()) as { new_contract: number };
    const reaped = await pollUntil(async () => {
      const instance = stack.sim!.admin.instance(instanceId);
      return instance?.destroyedAtMs !== null ? instance : undefined;
    }, 30_000);
    expect(reaped?.destroyedAtMs).not.toBeNull();
    const terminated = await pollUntil(async () =>
      stack.bus.events.find(
        (e) =>
          e["detail-type"] === "Instance Terminated" &&
          (e.detail as { instanceId?: number }).instanceId === instanceId,
      ),
    );
    expect(terminated?.detail).toMatchObject({ jobId: null, reason: expect.stringContaining("orphan") });
    await expectInvariants();
  });

  it("hears Vast's webhook when a host goes offline, reconciles at once, and trains elsewhere", async () => {
    const { jobId } = await submitSigned(stack.apiUrl, stack.submissionSecret, sampleJobRequest());
    const training = await waitFor(jobId, (v) => v.state === "training" || ended(v));
    expect(training.state).toBe("training");
    const instanceId = training.instance!.instanceId;
    await stack.sim!.admin.setTrainingBehaviour(instanceId, { durationSeconds: 600 });
    const before = stack.bus.events.length;
    await stack.sim!.admin.addFault({ kind: "offline", instanceId });
    // Vast's notification reaches POST /v1/webhooks/vast, which puts a reconcile on the bus.
    const reconcile = await pollUntil(
      async () =>
        stack.bus.events
          .slice(before)
          .find(
            (e) =>
              e["detail-type"] === "Reconcile Requested" &&
              (e.detail as { notification?: string }).notification === "instance_offline",
          ),
      10_000,
    );
    expect(reconcile?.detail).toMatchObject({ trigger: "vast-webhook" });
    const handled = await pollUntil(
      async () => stack.bus.deliveries.find((d) => d.eventId === reconcile!.id),
      10_000,
    );
    expect(handled).toMatchObject({ rule: "Reconcile", outcome: "delivered" });
    const done = await waitFor(jobId, ended, 90_000);
    expect(done.state).toBe("succeeded");
    expect(done.attempts.map((a) => a.outcome)).toEqual([
      expect.not.stringMatching(/^succeeded$/),
      "succeeded",
    ]);
    await expectInvariants(jobId);
  });

  it("makes a job from an EventBridge Rental Requested event put on the bus with the AWS SDK", async () => {
    const client = new EventBridgeClient({
      endpoint: stack.bus.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    const idempotencyKey = `eventbridge-${Date.now()}`;
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: "shop.backend",
            DetailType: "Rental Requested",
            Detail: JSON.stringify(sampleJobRequest({ idempotencyKey })),
            EventBusName: stack.environment.EVENT_BUS_NAME,
          },
        ],
      }),
    );
    client.destroy();
    expect(out.FailedEntryCount).toBe(0);
    const job = await pollUntil(async () => {
      const list = (await (await fetch(`${stack.apiUrl}/v1/jobs?limit=50`, keyed())).json()) as {
        jobs: { jobId: string }[];
      };
      for (const summary of list.jobs) {
        const v = await view(summary.jobId);
        if (v.request.idempotencyKey === idempotencyKey) return v;
      }
      return undefined;
    }, 10_000);
    expect(job).toBeDefined();
    const done = await waitFor(job!.jobId, ended);
    expect(done.state).toBe("succeeded");
    await expectInvariants(job!.jobId);
  });
});
