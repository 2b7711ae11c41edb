/**
 * The completion follow-up end to end: real provision, push and poller code on the simulator,
 * DynamoDB Local and fauxqs. A run is held by the simulator at 90 % (its 9th of 10 progress lines),
 * so it is deterministically still going when the poller looks; the simulator's clock stands still
 * unless a test moves it. Follow-up delays are recorded and the clock moved by them (the messages
 * themselves go on the queue without a delay, so nothing waits in real time).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createProvisionHandler } from "../../functions/provision";
import {
  cancelJob,
  handleCompletionFollowUp,
  type ReaperDeps,
  runReaper,
} from "../../packages/core/src/jobs";
import type { CompletionMessage, JobQueue, QueueMessage } from "../../packages/core/src/queue";
import { pollUntil } from "../support/poll";
import { useScenarios } from "../support/provision-harness";
import {
  crashingStore,
  type PushScenario,
  startPushScenario,
  untilTrainingExited,
} from "../support/push-harness";

const scenarios = useScenarios(startPushScenario);

interface Sent {
  message: CompletionMessage;
  delaySeconds: number;
}

/** The scenario's dependencies with a queue that records completion follow-ups and sends them undelayed. */
function followUps(s: PushScenario) {
  const sent: Sent[] = [];
  const queue: JobQueue = {
    async enqueue(message: QueueMessage, options) {
      if (message.type !== "completion") return s.deps.queue.enqueue(message, options);
      sent.push({ message: message as CompletionMessage, delaySeconds: options?.delaySeconds ?? 0 });
      return s.deps.queue.enqueue(message);
    },
  };
  const deps: ReaperDeps = { ...s.deps, queue };
  const handler = createProvisionHandler(deps);
  return { sent, deps, handler, pump: (handlers = [handler]) => s.base.pump(handlers) };
}

/** A job in `training` whose run is held at its 9th of 10 progress lines. */
async function heldRun(s: PushScenario) {
  const { jobId, instanceId } = await s.jobToPushing({}, { durationSeconds: 0.5, holdAfterTicks: 9 });
  expect(await s.pumpPush()).toEqual({ received: 1, failed: 0 });
  const job = await s.store.getJob(jobId);
  expect(job?.state).toBe("training");
  const rootDir = s.base.sim.admin.instance(instanceId)?.rootDir ?? "";
  const log = join(rootDir, "jobs", jobId, "train.log");
  const ninth = await pollUntil(
    async () =>
      (await readFile(log, "utf8").catch(() => "")).match(/\| (\d+)\/(\d+) \[/g)?.length === 9
        ? true
        : undefined,
    10_000,
    20,
  );
  expect(ninth, "the run reached its 9th progress line").toBe(true);
  return { jobId, instanceId, trainingAt: job?.updatedAt ?? 0 };
}

/** Moves the simulator's clock (the orchestrator's clock here) by `seconds`. */
function advance(s: PushScenario, seconds: number): void {
  s.base.sim.admin.advance(seconds);
}

async function release(s: PushScenario, instanceId: number, jobId: string): Promise<number> {
  const finishedAt = s.base.sim.admin.now();
  await s.base.sim.admin.releaseTraining(instanceId);
  await untilTrainingExited(s, instanceId, jobId);
  return finishedAt;
}

describe("completion follow-up", () => {
  it("a run ending between poller runs is collected and destroyed within 10 s of its end, not at the next poller run", async () => {
    const s = await scenarios.start({ seed: 61 });
    const f = followUps(s);
    const { jobId, instanceId, trainingAt } = await heldRun(s);
    // 270 s in at 90 %: the end is expected 30 s from now, before the poller's next run (60 s).
    advance(s, 270);
    const pollerAt = s.base.sim.admin.now();
    const summary = await runReaper(f.deps, { trigger: "test" });
    expect(summary.actions.follow_up_scheduled).toBe(1);
    expect(f.sent).toHaveLength(1);
    expect(f.sent[0]).toMatchObject({
      message: { type: "completion", jobId, attempt: 1, check: 1, chain: pollerAt },
      delaySeconds: 30,
    });
    expect(trainingAt).toBeLessThan(pollerAt);

    // The first follow-up finds the run still going (held): the next check 10 s later.
    advance(s, 30);
    expect(await f.pump()).toEqual({ received: 1, failed: 0 });
    expect((await s.store.getJob(jobId))?.state).toBe("training");
    expect(f.sent.map((x) => [x.message.check, x.delaySeconds])).toEqual([
      [1, 30],
      [2, 10],
    ]);

    // The run ends; the next follow-up collects the LoRA and destroys the instance.
    const finishedAt = await release(s, instanceId, jobId);
    advance(s, 10);
    expect(await f.pump()).toEqual({ received: 1, failed: 0 });
    const job = await s.store.getJob(jobId);
    expect(job?.state).toBe("succeeded");
    const destroyedAt = s.base.sim.admin.instance(instanceId)?.destroyedAtMs ?? Number.POSITIVE_INFINITY;
    expect(destroyedAt - finishedAt).toBeLessThanOrEqual(10_000);
    // Without the follow-up, the poller's next run (60 s after the last) would have seen the end.
    expect(destroyedAt).toBeLessThan(pollerAt + 60_000);
    // Done: no further check was sent, and the next poller run has nothing to do.
    expect(f.sent).toHaveLength(2);
    expect((await runReaper(f.deps, { trigger: "test" })).actions.training_checked).toBe(0);
    expect(await s.invariants()).toEqual([]);
  });

  it("a follow-up delivered twice checks once at a time and does not fork its chain; a late one does nothing", async () => {
    const s = await scenarios.start({ seed: 62 });
    const f = followUps(s);
    const { jobId, instanceId } = await heldRun(s);
    advance(s, 270);
    await runReaper(f.deps, { trigger: "test" });
    expect(f.sent).toHaveLength(1);
    const twice = [f.handler, createProvisionHandler(f.deps)];

    advance(s, 30);
    expect(await f.pump(twice)).toEqual({ received: 1, failed: 0 });
    // Both deliveries ran (one may have found the other holding the job): one successor only.
    expect(f.sent.map((x) => x.message.check)).toEqual([1, 2]);
    // Delivered again later, while the run still goes on: it checks, and sends no second successor.
    // (Handled directly: the queue already holds check 2, undelayed.)
    expect(await handleCompletionFollowUp(f.deps, f.sent[0]!.message)).toMatchObject({
      action: "checked",
      result: { action: "running" },
      next: null,
    });
    expect(f.sent.map((x) => x.message.check)).toEqual([1, 2]);
    expect((await s.store.getJob(jobId))?.state).toBe("training");

    await release(s, instanceId, jobId);
    advance(s, 10);
    expect(await f.pump(twice)).toEqual({ received: 1, failed: 0 });
    const job = await s.store.getJob(jobId);
    expect(job?.state).toBe("succeeded");
    const timeline = await s.store.getTimeline(jobId);
    expect(timeline.filter((e) => e.details.kind === "artifact")).toHaveLength(1);
    expect(timeline.filter((e) => e.kind === "transition" && e.to === "succeeded")).toHaveLength(1);
    expect(s.events.of("Job Succeeded")).toHaveLength(1);
    expect((await s.store.getAttempt(jobId, 1))?.costUsd).toBe(job?.spentUsd);

    // A late duplicate of the last check, and one of the first: nothing changes, nothing is sent.
    const late = f.sent.map((x) => x.message);
    for (const message of late) await s.deps.queue.enqueue(message);
    // (With whatever else waits on the provision queue, e.g. the job's event callbacks.)
    for (let r = await f.pump(); r.received > 0; r = await f.pump()) expect(r.failed).toBe(0);
    expect(await s.store.getTimeline(jobId)).toHaveLength(timeline.length);
    expect(await s.store.getJob(jobId)).toEqual(job);
    expect(f.sent, JSON.stringify(f.sent)).toHaveLength(2);
    expect(s.events.of("Job Succeeded")).toHaveLength(1);
    expect(await s.invariants()).toEqual([]);
  });

  it("a crash between collecting the LoRA and destroying the instance is finished by the redelivered follow-up, collecting once", async () => {
    const s = await scenarios.start({ seed: 63 });
    const f = followUps(s);
    const { jobId, instanceId } = await heldRun(s);
    advance(s, 270);
    await runReaper(f.deps, { trigger: "test" });
    const finishedAt = await release(s, instanceId, jobId);
    advance(s, 30);
    // The LoRA is stored, then the process dies before the instance's destroy is requested.
    const crashing = createProvisionHandler({
      ...f.deps,
      store: crashingStore(s.store, "requestAttemptEnd"),
    });
    expect(await f.pump([crashing])).toEqual({ received: 1, failed: 1 });
    expect((await s.store.getJob(jobId))?.state).toBe("collecting");
    expect(s.base.sim.admin.instance(instanceId)?.destroyedAtMs).toBeNull();

    // The redelivery finishes it: the stored LoRA is not collected again.
    expect(await f.pump()).toEqual({ received: 1, failed: 0 });
    const job = await s.store.getJob(jobId);
    expect(job?.state).toBe("succeeded");
    const timeline = await s.store.getTimeline(jobId);
    expect(timeline.filter((e) => e.details.kind === "artifact")).toHaveLength(1);
    const destroyedAt = s.base.sim.admin.instance(instanceId)?.destroyedAtMs ?? Number.POSITIVE_INFINITY;
    expect(destroyedAt - finishedAt).toBeLessThanOrEqual(30_000);
    expect(f.sent).toHaveLength(1);
    expect(await s.invariants()).toEqual([]);
  });

  it("a cancelled job's follow-up does nothing", async () => {
    const s = await scenarios.start({ seed: 64 });
    const f = followUps(s);
    const { jobId, instanceId } = await heldRun(s);
    advance(s, 270);
    await runReaper(f.deps, { trigger: "test" });
    expect(f.sent).toHaveLength(1);
    const cancelled = await cancelJob(s.deps, jobId, "the user changed their mind");
    expect(cancelled.state).toBe("cancelled");
    expect(s.base.sim.admin.instance(instanceId)?.destroyedAtMs).not.toBeNull();
    const timeline = await s.store.getTimeline(jobId);

    advance(s, 30);
    expect(await f.pump()).toEqual({ received: 1, failed: 0 });
    expect(await s.store.getJob(jobId)).toEqual(cancelled);
    expect(await s.store.getTimeline(jobId)).toHaveLength(timeline.length);
    expect(f.sent).toHaveLength(1);
    expect(await s.invariants()).toEqual([]);
  });
});
