/**
 * The five ways a rented GPU used to be left billing, each reproduced through the real handlers,
 * DynamoDB Local, fauxqs and the simulator, and each now ending with the instance destroyed (or
 * never rented) and the job terminal with a reason a person understands:
 * 1. a push killed by the Lambda deadline on its last delivery;
 * 2. an ambiguous create that completes after the label look-up;
 * 3. the provision queue's last delivery, with an instance already rented;
 * 4. a job ended while pushing or training (and, generally, from every state it can end from);
 * 5. datasets that can never work, found before renting — or, for an archive, during the push —
 *    and failed at once rather than retried for hours.
 */
import { once } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createGzip } from "node:zlib";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import type { Context, SQSEvent } from "aws-lambda";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPushHandler } from "../../functions/push-dataset";
import {
  cancelJob,
  checkJobTraining,
  finishJob,
  isTerminal,
  type JobState,
} from "../../packages/core/src/jobs";
import { guardedHttpsAgent, type LookupFunction } from "../../packages/core/src/net";
import { startHttpsServer, type TestHttpsServer } from "../../packages/core/test/dataset/https-server";
import { DATASET_BUCKET } from "../support/datasets";
import { driveTo } from "../support/drive-to";
import { freePort } from "../support/free-port";
import { expectInvariantsHold, useScenarios } from "../support/provision-harness";
import { type PushScenario, startPushScenario } from "../support/push-harness";

const scenarios = useScenarios(startPushScenario);

/** A tar with one captioned image; `imageBytes` of zeros in the image. */
async function tarball(imageBytes: number, gzip = false): Promise<Buffer> {
  const pack = tar.pack();
  const out = gzip ? pack.pipe(createGzip()) : pack;
  // Read while writing: the pack holds back until its output is consumed.
  const collected = (async () => {
    const chunks: Buffer[] = [];
    for await (const part of out) chunks.push(part as Buffer);
    return Buffer.concat(chunks);
  })();
  pack.entry({ name: "cat.txt" }, "a photo of ohwx cat");
  const image = pack.entry({ name: "cat.jpg", size: imageBytes });
  const chunk = Buffer.alloc(Math.min(imageBytes, 1 << 20));
  for (let left = imageBytes; left > 0; left -= chunk.length) {
    if (!image.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) await once(image, "drain");
  }
  await new Promise<void>((resolve) => image.end(resolve));
  pack.finalize();
  return await collected;
}

let https: TestHttpsServer;
let dripping: Buffer;
let bomb: Buffer;
const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {};

beforeAll(async () => {
  dripping = await tarball(4096);
  bomb = await tarball(64 * 1024 * 1024, true);
  // Answers HEAD honestly; GET of /drip sends its first bytes, then one byte every 200 ms.
  routes["/drip.tar"] = (req, res) => {
    res.writeHead(200, { "content-type": "application/x-tar", "content-length": dripping.length });
    if (req.method === "HEAD") return res.end();
    res.write(dripping.subarray(0, 600));
    let sent = 600;
    const timer = setInterval(() => {
      if (sent >= dripping.length || res.destroyed) return clearInterval(timer);
      res.write(dripping.subarray(sent, ++sent));
    }, 200);
    res.on("close", () => clearInterval(timer));
  };
  routes["/bomb.tar.gz"] = (req, res) => {
    res.writeHead(200, { "content-type": "application/gzip", "content-length": bomb.length });
    res.end(req.method === "HEAD" ? undefined : bomb);
  };
  routes["/forbidden.tar"] = (_req, res) => {
    res.writeHead(403).end();
  };
  routes["/missing.tar"] = (_req, res) => {
    res.writeHead(404).end();
  };
  https = await startHttpsServer((req, res) => {
    const route = routes[new URL(req.url ?? "/", "https://x").pathname];
    if (route) route(req, res);
    else res.writeHead(404).end();
  });
});
afterAll(async () => {
  await https?.close();
});

const start = (seed: number, extra: Parameters<typeof scenarios.start>[0] = {}) =>
  scenarios.start({ seed, https: { agent: https.agent }, ...extra });

const destroyed = (s: PushScenario, id: number) => s.base.sim.admin.instance(id)?.destroyedAtMs !== null;

/** The push Lambda invoked as SQS would, with `budgetMs` left before its deadline's teardown margin. */
function pushWithDeadline(s: PushScenario, budgetMs: number) {
  const handler = createPushHandler(s.deps);
  // The push handler keeps 60 s back for tearing down.
  const context = { getRemainingTimeInMillis: () => 60_000 + budgetMs } as Context;
  return (event: SQSEvent) => handler(event, context);
}

describe("1. a push that cannot finish before the Lambda deadline", () => {
  it("is aborted cleanly each time, and on the queue's last delivery the attempt ends before the handler returns", async () => {
    const s = await start(81);
    const { jobId, instanceId } = await s.jobToPushing({
      dataset: { kind: "https", url: `${https.base}/drip.tar` },
    });
    const handler = pushWithDeadline(s, 1_500);
    for (const delivery of [1, 2]) {
      const started = Date.now();
      expect(await s.pumpPush([handler])).toEqual({ received: 1, failed: 1 });
      // Stopped at its deadline, not when the source finally ends.
      expect(Date.now() - started).toBeLessThan(10_000);
      expect((await s.store.getJob(jobId))?.state, `after delivery ${delivery}`).toBe("pushing");
      expect(destroyed(s, instanceId)).toBe(false);
    }
    expect(await s.pumpPush([handler])).toEqual({ received: 1, failed: 0 });
    const job = await s.store.getJob(jobId);
    expect(job?.state).toBe("failed");
    expect(job?.reason).toMatch(
      /^The dataset could not be pushed to the instance after 3 tries: the push did not finish before the function's deadline/,
    );
    expect(destroyed(s, instanceId)).toBe(true);
    await expectInvariantsHold(s.base);
  });
});

describe("2. an ambiguous create that completes after the first label look-up", () => {
  it("is looked up again until it appears, and adopted: one instance, no second rental", async () => {
    const s = await start(82);
    await s.base.sim.admin.addFault({ kind: "late_create", status: 504, delaySeconds: 90, times: 1 });
    const jobId = await s.base.submit();
    await s.base.pump();
    expect(await s.store.getAttempt(jobId, 1)).toMatchObject({ outcome: "unresolved", instanceId: null });
    const job = await s.base.run(jobId, (j) => j.state === "pushing", { advanceSeconds: 20 });
    expect(job.attempt).toBe(1);
    const instances = s.base.sim.admin.instances();
    expect(instances).toHaveLength(1);
    const adopted = await s.store.getAttempt(jobId, 1);
    expect(adopted?.instanceId).toBe(instances[0]?.id);
    // Its disk bills from when Vast created it, 90 s after the call: the job is charged from the
    // last look-up that did not find it (at most one look-up interval early), not from the call.
    const created = instances[0]!.createdAtMs;
    expect(adopted!.rentedAt!).toBeLessThanOrEqual(created);
    expect(created - adopted!.rentedAt!).toBeLessThanOrEqual(20_000);
    await expectInvariantsHold(s.base);
  });
});

describe("3. the provision queue's last delivery", () => {
  it("destroys the instance its label names and fails the job, instead of dead-lettering with a GPU billing", async () => {
    const s = await start(83);
    // The create errors yet rents; attaching our SSH key to it then fails on every delivery.
    await s.base.sim.admin.addFault({ kind: "create_error_after_create", status: 500, times: 1 });
    await s.base.sim.admin.addFault({
      kind: "http_error",
      endpoint: "instance_ssh",
      status: 500,
      times: 100,
    });
    const jobId = await s.base.submit();
    const results = [];
    for (let delivery = 1; delivery <= 5; delivery++) {
      results.push(await s.base.pump());
      s.base.sim.admin.advance(30);
    }
    expect(results.map((r) => r.failed)).toEqual([1, 1, 1, 1, 0]);
    const job = await s.store.getJob(jobId);
    expect(job?.state).toBe("failed");
    expect(job?.reason).toMatch(
      /^Provisioning kept failing; the last error was: .*HTTP 500|^Provisioning kept failing; the last error was: /,
    );
    const [instance] = s.base.sim.admin.instances();
    expect(instance?.destroyedAtMs).not.toBeNull();
    expect(await s.store.getAttempt(jobId, 1)).toMatchObject({ instanceId: instance?.id, outcome: "failed" });
    expect(job?.spentUsd).toBeGreaterThan(0);
    await expectInvariantsHold(s.base);
  });
});

describe("4. a job ended while it holds a GPU", () => {
  it("cancelled while pushing: destroyed at once, and the push message that follows does nothing", async () => {
    const s = await start(84);
    const { jobId, instanceId } = await s.jobToPushing();
    const cancelled = await cancelJob(s.deps, jobId, "the customer withdrew the order");
    expect(cancelled).toMatchObject({ state: "cancelled", reason: "the customer withdrew the order" });
    expect(destroyed(s, instanceId)).toBe(true);
    expect(await s.pumpPush()).toEqual({ received: 1, failed: 0 });
    expect(s.base.sim.admin.instance(instanceId)?.bytesReceived).toBe(0);
    expect(cancelled.costUsd).toBeGreaterThan(0);
    await expectInvariantsHold(s.base);
  });

  it("failed while training: destroyed at once; the completion check finds nothing to do", async () => {
    const s = await start(85);
    const { jobId, instanceId } = await s.jobToPushing({}, { durationSeconds: 600 });
    await s.pumpPush();
    const job = await s.store.getJob(jobId);
    expect(job?.state).toBe("training");
    const failed = await finishJob(s.deps, job!, { type: "fail", reason: "an operator stopped it" });
    expect(failed).toMatchObject({ state: "failed", reason: "an operator stopped it" });
    expect(destroyed(s, instanceId)).toBe(true);
    expect(await checkJobTraining(s.deps, jobId)).toMatchObject({ action: "skipped" });
    await expectInvariantsHold(s.base);
  });

  it.each<JobState>(["queued", "provisioning", "booting", "pushing", "training", "collecting"])(
    "a job cancelled from %s keeps no live instance",
    async (state) => {
      const s = await start(86);
      const jobId = await driveTo(s, state);
      expect((await s.store.getJob(jobId))?.state).toBe(state);
      const ended = await cancelJob(s.deps, jobId);
      expect(ended.state).toBe("cancelled");
      for (const attempt of await s.store.listAttempts(jobId)) {
        expect(attempt.endedAt, `attempt ${attempt.attempt}`).not.toBeNull();
        if (attempt.instanceId !== null) expect(destroyed(s, attempt.instanceId)).toBe(true);
      }
      expect(s.base.sim.admin.instances().filter((i) => i.destroyedAtMs === null)).toEqual([]);
      await expectInvariantsHold(s.base);
    },
  );
});

describe("5. datasets that can never work", () => {
  const refusedBeforeRenting = async (s: PushScenario, dataset: object, why: RegExp) => {
    const jobId = await s.base.submit({ dataset } as never);
    const job = await s.base.run(jobId, (j) => isTerminal(j.state), { maxRounds: 10 });
    expect(job.state).toBe("failed");
    expect(job.reason).toMatch(/^The dataset was refused before renting a GPU: /);
    expect(job.reason).toMatch(why);
    expect(s.base.sim.admin.instances()).toEqual([]);
    expect(await s.store.listAttempts(jobId)).toEqual([]);
    expect(job).toMatchObject({ spentUsd: 0, costUsd: 0 });
  };

  it("a URL answering 403 or 404 fails the job before anything is rented", async () => {
    const s = await start(87);
    await refusedBeforeRenting(
      s,
      { kind: "https", url: `${https.base}/forbidden.tar?sig=secret` },
      /HTTP 403/,
    );
    await refusedBeforeRenting(s, { kind: "https", url: `${https.base}/missing.tar` }, /HTTP 404/);
    // The presigned query string never reaches the reason.
    const jobs = await s.store.listActiveJobs("queued");
    expect(JSON.stringify(jobs)).not.toContain("sig=secret");
  });

  it("an S3 bucket that does not exist, or names that clash, fail the job before anything is rented", async () => {
    const s = await start(88);
    await refusedBeforeRenting(s, { kind: "s3", bucket: "no-such-bucket", prefix: "x/" }, /no-such-bucket/);
    for (const key of ["clash/x.jpg", "clash/x.jpg/y.jpg", "clash/x.txt"]) {
      await s.s3.send(new PutObjectCommand({ Bucket: DATASET_BUCKET, Key: key, Body: "b" }));
    }
    await refusedBeforeRenting(s, { kind: "s3", bucket: DATASET_BUCKET, prefix: "clash/" }, /"x\.jpg"/);
  });

  it("a dataset that does not fit the disk (beside the model cache and outputs) fails before renting", async () => {
    const s = await start(89);
    const jobId = await s.base.submit({ diskGb: 38 });
    const job = await s.base.run(jobId, (j) => isTerminal(j.state), { maxRounds: 10 });
    expect(job.reason).toMatch(
      /^The dataset was refused before renting a GPU: the dataset .* do not fit the job's 38 GB disk/,
    );
    expect(s.base.sim.admin.instances()).toEqual([]);
  });

  it("a name that resolves to a private address is refused when resolved, before anything is rented", async () => {
    // A name that looks public; the (stubbed) DNS answers 10.0.0.1 — a host inside the network.
    const resolver = ((_host: string, options: unknown, callback: unknown) => {
      const done = (typeof options === "function" ? options : callback) as (...args: unknown[]) => void;
      const all = typeof options === "object" && options !== null && (options as { all?: boolean }).all;
      if (all) done(null, [{ address: "10.0.0.1", family: 4 }]);
      else done(null, "10.0.0.1", 4);
    }) as LookupFunction;
    const agent = guardedHttpsAgent({ policy: https.policy, resolver, ca: https.cert });
    const s = await start(92, { https: { agent, policy: https.policy } });
    const before = https.connections();
    await refusedBeforeRenting(
      s,
      { kind: "https", url: "https://datasets.example-corp.test/cats.tar" },
      /resolves to a private address/,
    );
    expect(https.connections()).toBe(before);
  });

  it("an unreachable URL is retried, never rents, and fails the job on the last delivery", async () => {
    const s = await start(90);
    const jobId = await s.base.submit({
      dataset: { kind: "https", url: `https://127.0.0.1:${await freePort()}/x.tar` },
    });
    const job = await s.base.run(jobId, (j) => isTerminal(j.state), { maxRounds: 10 });
    expect(job.state).toBe("failed");
    expect(job.reason).toMatch(/^Provisioning kept failing; the last error was: .*ECONNREFUSED/);
    expect(s.base.sim.admin.instances()).toEqual([]);
  });

  it("an archive that expands past the limits fails the push at once: first delivery, instance destroyed", async () => {
    const s = await start(91, { settings: { dataset: { maxBytes: 8 * 1024 * 1024 } } });
    const { jobId, instanceId } = await s.jobToPushing({
      dataset: { kind: "https", url: `${https.base}/bomb.tar.gz` },
    });
    expect(await s.pumpPush()).toEqual({ received: 1, failed: 0 });
    const job = await s.store.getJob(jobId);
    expect(job?.state).toBe("failed");
    expect(job?.reason).toMatch(/^The dataset was refused: the dataset exceeds the 8\.4 MB size limit/);
    expect(destroyed(s, instanceId)).toBe(true);
    // Nothing was sent: the limit is checked on the entry's header, before its bytes.
    expect(s.base.sim.admin.instance(instanceId)?.bytesReceived ?? 0).toBeLessThan(1024 * 1024);
    await expectInvariantsHold(s.base);
  });
});
