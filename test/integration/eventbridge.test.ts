/**
 * EventBridge in: the subscriber maps `Rental Requested`, `Rental Cancel Requested` and
 * `Instance Terminate Requested` to the API's commands, against DynamoDB Local, fauxqs and the
 * simulator; an event that can never apply lands in the dead-letter queue (fauxqs) with its reason
 * and stores nothing. And the poller runs on the bus's `Reconcile Requested`.
 */
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { createEventsHandler } from "../../functions/events";
import { createPollerHandler } from "../../functions/poller";
import type { CommandDeps } from "../../packages/core/src/jobs";
import { SqsDeadLetters } from "../../packages/core/src/queue";
import { sampleJobRequestInput } from "../support/job-request";
import { expectInvariantsHold, useScenarios } from "../support/provision-harness";
import { type PushScenario, startPushScenario } from "../support/push-harness";

const scenarios = useScenarios(startPushScenario);

/** An EventBridge event as Lambda receives it. */
function busEvent<T>(detailType: string, detail: T, id = `evt-${Math.random().toString(36).slice(2)}`) {
  return {
    version: "0",
    id,
    "detail-type": detailType,
    source: "orders.service",
    account: "000000000000",
    time: new Date().toISOString(),
    region: "us-east-1",
    resources: [],
    detail,
  };
}

function subscriber(s: PushScenario) {
  const dlq = scenarios.infra.sqs.createQueue("commands-dlq");
  const deps: CommandDeps = {
    ...s.deps,
    deadLetters: new SqsDeadLetters({ client: scenarios.infra.sqs.client, queueUrl: dlq.url }),
  };
  const deadLetters = async () => {
    const out = await scenarios.infra.sqs.client.send(
      new ReceiveMessageCommand({ QueueUrl: dlq.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    return (out.Messages ?? []).map((m) => JSON.parse(m.Body ?? "{}") as { reason: string; event: unknown });
  };
  return { handle: createEventsHandler(deps), deadLetters };
}

describe("EventBridge in", () => {
  it("a Rental Requested event produces a job; the same event delivered twice still makes one", async () => {
    const s = await scenarios.start({ seed: 101 });
    const { handle } = subscriber(s);
    const event = busEvent("Rental Requested", sampleJobRequestInput());
    const first = await handle(event);
    const again = await handle(event);
    expect(first).toMatchObject({ applied: "job_submitted", created: true });
    expect(again).toEqual({ ...first, created: false });
    if (!("jobId" in first)) throw new Error("no job");
    expect(await s.store.getJob(first.jobId)).toMatchObject({
      state: "queued",
      idempotencyKey: `eventbridge-${event.id}`,
    });
    const booting = await s.base.run(first.jobId, (j) => j.state === "booting");
    expect(booting.attempt).toBe(1);
    await expectInvariantsHold(s.base);
  });

  it("a bad event lands in the dead-letter queue with its reason, and stores nothing", async () => {
    const s = await scenarios.start({ seed: 102 });
    const { handle, deadLetters } = subscriber(s);
    const invalid = busEvent("Rental Requested", sampleJobRequestInput({ maxHourlyUsd: -1 }));
    const unknown = busEvent("Rental Exploded", { jobId: "x" });
    const missing = busEvent("Rental Cancel Requested", { jobId: "job_that_never_was" });
    for (const event of [invalid, unknown, missing]) expect(await handle(event)).toHaveProperty("refused");
    const dead = await deadLetters();
    expect(dead.map((d) => d.event)).toEqual([invalid, unknown, missing]);
    expect(dead[0]?.reason).toMatch(
      /^the job request was refused: maxHourlyUsd: maxHourlyUsd must be greater than 0/,
    );
    expect(dead[1]?.reason).toMatch(/^not a command this system takes: detail-type/);
    expect(dead[2]?.reason).toBe("job job_that_never_was does not exist");
    expect((await s.store.listJobs()).jobs).toEqual([]);
    expect(s.events.events).toEqual([]);
  });

  it("Rental Cancel Requested ends a booting job and its rental", async () => {
    const s = await scenarios.start({ seed: 103 });
    const { handle } = subscriber(s);
    const jobId = await s.base.submit();
    await s.base.run(jobId, (j) => j.state === "booting");
    const instanceId = (await s.store.getAttempt(jobId, 1))?.instanceId as number;
    expect(await handle(busEvent("Rental Cancel Requested", { jobId, reason: "order withdrawn" }))).toEqual({
      applied: "job_cancelled",
      jobId,
    });
    expect(await s.store.getJob(jobId)).toMatchObject({ state: "cancelled", reason: "order withdrawn" });
    expect(s.base.sim.admin.instance(instanceId)?.destroyedAtMs).not.toBeNull();
    expect(s.events.of("Instance Terminated")).toEqual([
      { jobId, attempt: 1, instanceId, reason: "order withdrawn" },
    ]);
    await expectInvariantsHold(s.base);
  });

  it("Instance Terminate Requested ends the attempt holding it (the job moves on); a foreign instance is not found", async () => {
    const s = await scenarios.start({ seed: 104 });
    const { handle, deadLetters } = subscriber(s);
    const jobId = await s.base.submit();
    await s.base.run(jobId, (j) => j.state === "booting");
    const instanceId = (await s.store.getAttempt(jobId, 1))?.instanceId as number;
    expect(await handle(busEvent("Instance Terminate Requested", { instanceId }))).toEqual({
      applied: "instance_terminated",
      instanceId,
    });
    expect(s.base.sim.admin.instance(instanceId)?.destroyedAtMs).not.toBeNull();
    expect(await s.store.getJob(jobId)).toMatchObject({ state: "provisioning", attempt: 1 });
    expect((await s.store.getAttempt(jobId, 1))?.failureReason).toBe("terminated on request");

    const offer = s.base.sim.admin.offers().find((o) => o.rentable && !o.rented);
    const foreign = await s.base.service.client.createInstance(offer?.id as number, {
      client_id: "me",
      image: "pytorch/pytorch",
      disk: 20,
      label: "someone-elses-notebook",
    });
    expect(
      await handle(busEvent("Instance Terminate Requested", { instanceId: foreign.instanceId })),
    ).toEqual({
      refused: `instance ${foreign.instanceId} not found`,
    });
    expect(s.base.sim.admin.instance(foreign.instanceId)?.destroyedAtMs).toBeNull();
    expect((await deadLetters()).map((d) => d.reason)).toEqual([`instance ${foreign.instanceId} not found`]);
  });

  it("the poller runs when the bus says Reconcile Requested", async () => {
    const s = await scenarios.start({ seed: 105 });
    const poller = createPollerHandler(s.deps);
    const summary = await poller(
      busEvent("Reconcile Requested", { trigger: "vast-webhook", eventId: "e1", notification: "outbid" }),
    );
    expect(summary).toMatchObject({ skipped: false, trigger: "vast-webhook" });
  });
});
