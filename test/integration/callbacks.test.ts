/**
 * Signed callbacks end to end: a job runs through the real handlers (DynamoDB Local, fauxqs, the
 * simulator) with its callbackUrl on a loopback HTTPS receiver that verifies every signature the
 * way the README tells a receiver to, and answers 503 to the first try of every delivery. The
 * receiver must see each lifecycle event of the job exactly once, every retry carrying the same
 * delivery id. The sender's own outcomes (refused by the outbound policy, 4xx, unreachable) too.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { Agent } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpCallbackSender } from "../../packages/core/src/callbacks";
import { systemClock } from "../../packages/core/src/clock";
import { checkJobTraining } from "../../packages/core/src/jobs";
import { startHttpsServer, type TestHttpsServer } from "../../packages/core/test/dataset/https-server";
import { freePort } from "../support/free-port";
import { expectInvariantsHold, useScenarios } from "../support/provision-harness";
import { startPushScenario, untilJob, untilTrainingExited } from "../support/push-harness";

const SECRET = "callback-signing-secret-for-tests";

interface Received {
  deliveryId: string;
  event: string;
  status: number;
  body: { deliveryId: string; type: string; detail: Record<string, unknown> };
}

/** What a receiver does, in five lines: recompute the HMAC over `<timestamp>.<raw body>`, compare in constant time. */
function verify(secret: string, timestamp: string, rawBody: string, signature: string): boolean {
  const expected = `sha256=${createHmac("sha256", secret).update(`${timestamp}.${rawBody}`).digest("hex")}`;
  return (
    expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature))
  );
}

let server: TestHttpsServer;
let now: () => number = () => Date.now();
const received: Received[] = [];
const badSignatures: string[] = [];
const triedOnce = new Set<string>();
let answer: (deliveryId: string) => number = () => 204;

beforeAll(async () => {
  server = await startHttpsServer((req, res) => {
    let raw = "";
    req.on("data", (chunk) => {
      raw += chunk;
    });
    req.on("end", () => {
      const header = (name: string) => String(req.headers[name.toLowerCase()] ?? "");
      const timestamp = header("X-Vast-Rental-Timestamp");
      const fresh = Math.abs(now() / 1000 - Number(timestamp)) <= 300;
      if (!fresh || !verify(SECRET, timestamp, raw, header("X-Vast-Rental-Signature-256"))) {
        badSignatures.push(raw);
        res.writeHead(401).end();
        return;
      }
      const deliveryId = header("X-Vast-Rental-Delivery");
      const status = answer(deliveryId);
      received.push({ deliveryId, event: header("X-Vast-Rental-Event"), status, body: JSON.parse(raw) });
      res.writeHead(status).end();
    });
  });
});
afterAll(async () => {
  await server?.close();
});

const scenarios = useScenarios(startPushScenario);

describe("signed callbacks", () => {
  it("a receiver on loopback verifies every signature and sees each event of the job once, despite 5xx answers", async () => {
    // The first try of every delivery fails: each must come again, with the same id, and then stop.
    answer = (deliveryId) => {
      if (triedOnce.has(deliveryId)) return 204;
      triedOnce.add(deliveryId);
      return 503;
    };
    let clock = () => Date.now();
    const callbacks = new HttpCallbackSender({
      secret: SECRET,
      policy: server.policy,
      agent: server.agent,
      clock: { now: () => clock(), sleep: systemClock.sleep },
    });
    const s = await scenarios.start({ seed: 111, callbacks });
    clock = () => s.base.sim.admin.now();
    now = clock;
    const callbackUrl = `${server.base}/hooks/training?token=t0k3n`;
    const { jobId, instanceId } = await s.jobToPushing({ callbackUrl }, { durationSeconds: 0.2 });
    expect(await s.pumpPush()).toEqual({ received: 1, failed: 0 });
    await untilTrainingExited(s, instanceId, jobId);
    const job = await untilJob(
      s.store,
      jobId,
      () => checkJobTraining(s.deps, jobId),
      (j) => j.state === "succeeded",
    );
    while ((await s.base.pump()).received > 0) {}

    expect(badSignatures).toEqual([]);
    const accepted = received.filter((r) => r.status === 204);
    const tries = new Map<string, number>();
    for (const r of received) tries.set(r.deliveryId, (tries.get(r.deliveryId) ?? 0) + 1);
    // Every delivery: one 503, then one 204, nothing after.
    expect([...tries.values()].every((n) => n === 2)).toBe(true);
    expect(new Set(accepted.map((r) => r.deliveryId)).size).toBe(accepted.length);
    expect(accepted.map((r) => r.event).sort()).toEqual(
      [
        "Job Submitted",
        ...Array(6).fill("Job State Changed"),
        "Instance Provisioned",
        "Instance Terminated",
        "Job Succeeded",
      ].sort(),
    );
    const changes = accepted.filter((r) => r.event === "Job State Changed").map((r) => r.body.detail.to);
    expect(changes.sort()).toEqual([
      "booting",
      "collecting",
      "provisioning",
      "pushing",
      "succeeded",
      "training",
    ]);
    const final = accepted.find((r) => r.event === "Job Succeeded");
    expect(final?.body).toMatchObject({
      type: "Job Succeeded",
      detail: { jobId, costUsd: job.costUsd, artifact: job.artifact },
    });
    await expectInvariantsHold(s.base);
  });

  it("the sender: 2xx delivered, 408/429/5xx and unreachable retried, other 4xx rejected, a private host refused unsent", async () => {
    const sender = (policy = server.policy, agent = server.agent) =>
      new HttpCallbackSender({ secret: SECRET, policy, agent, clock: systemClock });
    now = () => Date.now();
    const delivery = {
      deliveryId: "0123456789abcdef0123456789abcdef",
      occurredAt: Date.now(),
      event: {
        detailType: "Job Failed" as const,
        detail: {
          jobId: "job_x",
          reason: "r",
          costUsd: 0,
          costBreakdown: { gpuUsd: 0, storageUsd: 0, bandwidthUsd: 0 },
        },
      },
    };
    const outcomes: Record<number, string> = {};
    for (const status of [200, 202, 408, 429, 500, 503, 400, 404, 410]) {
      answer = () => status;
      outcomes[status] = await sender().send(`${server.base}/hook`, delivery);
    }
    expect(outcomes).toEqual({
      200: "delivered",
      202: "delivered",
      408: "retry",
      429: "retry",
      500: "retry",
      503: "retry",
      400: "rejected",
      404: "rejected",
      410: "rejected",
    });
    expect(await sender().send(`https://127.0.0.1:${await freePort()}/gone`, delivery)).toBe("retry");
    // Without the test's allowlist, loopback is refused before any connection is made.
    const before = server.connections();
    const trustingOnly = new Agent({ ca: server.cert, keepAlive: false });
    expect(await sender({ allowHosts: [] }, trustingOnly).send(`${server.base}/hook`, delivery)).toBe(
      "rejected",
    );
    expect(server.connections()).toBe(before);
  });
});
