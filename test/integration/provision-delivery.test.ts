/**
 * At-least-once delivery and crashes against the provision handler: every message delivered
 * twice, two consumers racing on one job, a crash between the create call and the database
 * write, and a malformed record in a batch. Each ends with the money invariants.
 */
import { describe, expect, it } from "vitest";
import type { VastPort } from "../../packages/core/src/jobs";
import { expectInvariantsHold, startScenario, useScenarios } from "../support/provision-harness";
import { pumpOnce, toSqsRecord } from "../support/sqs-pump";
import { statesVisited } from "../support/timeline";

const scenarios = useScenarios(startScenario);

describe("provision handler under at-least-once delivery", () => {
  it("every message delivered twice (sent twice, and each delivery handled twice at once): one rental", async () => {
    const s = await scenarios.start({ seed: 11, duplicateSends: true });
    const jobId = await s.submit();
    const consumer = s.handler;
    await s.run(jobId, (j) => j.state === "pushing", { handlers: [consumer, consumer] });
    // Drain whatever duplicates are still queued: none may change anything.
    for (let i = 0; i < 10; i++) {
      await s.pump([consumer, consumer]);
      s.sim.admin.advance(5);
    }

    const instances = s.sim.admin.instances();
    expect(instances).toHaveLength(1);
    expect(await s.store.getJob(jobId)).toMatchObject({ state: "pushing", attempt: 1 });
    expect(await s.store.listAttempts(jobId)).toHaveLength(1);
    expect(await statesVisited(s.store, jobId)).toEqual(["queued", "provisioning", "booting", "pushing"]);
    const push = s.pushMessages();
    expect(push.length).toBeGreaterThanOrEqual(1);
    for (const message of push) expect(message).toEqual({ type: "push", jobId, attempt: 1 });
    await expectInvariantsHold(s);
  });

  it("two consumers racing on one job: one rents, the other backs off", async () => {
    const s = await scenarios.start({ seed: 12 });
    const jobId = await s.submit();
    // A second provision message for the same job, as a retried submission would send.
    await s.deps.queue.enqueue({ type: "provision", jobId });
    const [a, b] = [s.newHandler(), s.newHandler()];
    const url = s.provisionQueueUrl;
    const results = await Promise.all([
      pumpOnce(scenarios.infra.sqs.client, url, { handlers: [a], batchSize: 1 }),
      pumpOnce(scenarios.infra.sqs.client, url, { handlers: [b], batchSize: 1 }),
    ]);
    expect(results.map((r) => r.received)).toEqual([1, 1]);
    await s.run(jobId, (j) => j.state === "pushing", { handlers: [a] });
    for (let i = 0; i < 5; i++) await s.pump([a, b]);

    expect(s.sim.admin.instances()).toHaveLength(1);
    expect(await s.store.listAttempts(jobId)).toHaveLength(1);
    await expectInvariantsHold(s);
  });

  it("a crash right after create, before the database write: the redelivery adopts the instance by label", async () => {
    let crashes = 1;
    const s = await scenarios.start({
      seed: 13,
      wrapVast: (vast): VastPort => ({
        ...vast,
        provisionInstance: async (input) => {
          const created = await vast.provisionInstance(input);
          if (crashes-- > 0) throw new Error("Lambda runtime exited: out of memory");
          return created;
        },
      }),
    });
    const jobId = await s.submit();
    const first = await s.pump();
    expect(first).toEqual({ received: 1, failed: 1 });
    const pending = await s.store.getAttempt(jobId, 1);
    expect(pending).toMatchObject({ outcome: "pending", instanceId: null });
    expect(s.sim.admin.instances()).toHaveLength(1);

    await s.run(jobId, (j) => j.state === "pushing");
    const instances = s.sim.admin.instances();
    expect(instances).toHaveLength(1);
    expect(await s.store.getAttempt(jobId, 1)).toMatchObject({
      outcome: "ready",
      instanceId: instances[0]?.id,
    });
    expect(await s.store.listAttempts(jobId)).toHaveLength(1);
    await expectInvariantsHold(s);
  });

  it("a malformed record fails alone (partial batch response); the good one is processed", async () => {
    const s = await scenarios.start({ seed: 14 });
    const jobId = await s.submit();
    const arn = "arn:aws:sqs:us-east-1:000000000000:provision";
    const record = (id: string, body: string) =>
      toSqsRecord({ MessageId: id, ReceiptHandle: id, Body: body }, arn);
    const response = await s.handler({
      Records: [
        record("bad-1", "{not json"),
        record("bad-2", JSON.stringify({ type: "provision", jobId, sneaky: "$(rm -rf /)" })),
        record("good", JSON.stringify({ type: "provision", jobId })),
      ],
    });
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "bad-1" }, { itemIdentifier: "bad-2" }]);
    expect(await s.store.getJob(jobId)).toMatchObject({ state: "booting" });
    expect(s.sim.admin.instances()).toHaveLength(1);
    await expectInvariantsHold(s);
  });

  it("readiness checks use SQS DelaySeconds with backoff (real queue, real delay)", async () => {
    const s = await scenarios.start({
      seed: 15,
      settings: { provision: { readinessBackoffSeconds: [1, 2] } },
    });
    const jobId = await s.submit();
    await s.pump();
    expect(await s.store.getJob(jobId)).toMatchObject({ state: "booting" });
    // The check is not visible at once...
    expect(await s.pump()).toEqual({ received: 0, failed: 0 });
    await new Promise((r) => setTimeout(r, 1100));
    // ...but after its delay.
    expect((await s.pump()).received).toBe(1);
  });
});
