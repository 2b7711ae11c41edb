/**
 * The HTTP API over the real system: the real store on DynamoDB Local, fauxqs, the real handlers
 * and the Vast simulator (real SSH per instance).
 * - Cancelling through the API from every state a job can be cancelled from ends it through the
 *   one teardown path: every instance destroyed in the simulator, the money invariants holding.
 * - The same app served by `@hono/node-server` on loopback: a signed submission over HTTP
 *   provisions a GPU; the job and instance views show it; the simulator's own signed `outbid`
 *   notification reaches the webhook and asks for one reconcile; terminating the instance through
 *   the API ends the attempt; oversized bodies are refused by their Content-Length.
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { describe, expect, it } from "vitest";
import {
  type ApiCredentials,
  createApiApp,
  type InstanceList,
  type JobSummary,
  type JobView,
  type OfferSearchResult,
  type SubmittedJob,
} from "../../packages/core/src/api";
import type { JobState } from "../../packages/core/src/jobs";
import { signPayload } from "../../packages/core/src/signing";
import { driveTo } from "../support/drive-to";
import { sampleJobRequestInput } from "../support/job-request";
import { pollUntil } from "../support/poll";
import { expectInvariantsHold, useScenarios } from "../support/provision-harness";
import { type PushScenario, startPushScenario } from "../support/push-harness";

const scenarios = useScenarios(startPushScenario);

const CREDENTIALS: ApiCredentials = {
  apiKeys: { ops: "ops-key-integration-0123456789" },
  submissionSecrets: { shop: "shop-secret-integration-0123456789" },
  vastWebhookSecret: "vast-whsec-integration-0123456789",
};
const auth = { authorization: `Bearer ${CREDENTIALS.apiKeys.ops}` };

const apiFor = (s: PushScenario) => createApiApp({ ...s.deps, credentials: () => CREDENTIALS });
const bodyOf = async <T>(response: Response) => (await response.json()) as T;
const destroyed = (s: PushScenario, id: number) => s.base.sim.admin.instance(id)?.destroyedAtMs !== null;

describe("POST /v1/jobs/{id}/cancel on the real system", () => {
  it.each<JobState>(["queued", "provisioning", "booting", "pushing", "training", "collecting"])(
    "cancels a job in %s: ended through the teardown path, no instance left alive",
    async (state) => {
      const s = await scenarios.start({ seed: 91 });
      const app = apiFor(s);
      const jobId = await driveTo(s, state);
      expect((await s.store.getJob(jobId))?.state).toBe(state);
      const response = await app.request(`/v1/jobs/${jobId}/cancel`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ reason: `operator cancelled it while ${state}` }),
      });
      expect(response.status).toBe(200);
      expect(await bodyOf<JobSummary>(response)).toMatchObject({
        jobId,
        state: "cancelled",
        reason: `operator cancelled it while ${state} (API key "ops")`,
      });
      const attempts = await s.store.listAttempts(jobId);
      if (state !== "queued") expect(attempts.length).toBeGreaterThan(0);
      for (const attempt of attempts) {
        expect(attempt.endedAt, `attempt ${attempt.attempt}`).not.toBeNull();
        if (attempt.instanceId !== null) expect(destroyed(s, attempt.instanceId)).toBe(true);
      }
      if (["booting", "pushing", "training", "collecting"].includes(state)) {
        expect(attempts.some((a) => a.instanceId !== null)).toBe(true);
      }
      expect(s.base.sim.admin.instances().filter((i) => i.destroyedAtMs === null)).toEqual([]);
      // The job view agrees: ended, nothing held, the cost final.
      const view = await bodyOf<JobView>(await app.request(`/v1/jobs/${jobId}`, { headers: auth }));
      expect(view).toMatchObject({ state: "cancelled", instance: null });
      expect(view.cost.finalUsd).toBe(view.cost.spentUsd);
      await expectInvariantsHold(s.base);
    },
  );
});

describe("the API served by @hono/node-server on loopback", () => {
  it("takes a signed submission to a GPU, shows it, hears Vast's webhook, and terminates it", async () => {
    // The server starts first: the simulator needs its URL to send webhooks to.
    let fetchApp: (request: Request) => Response | Promise<Response> = () =>
      new Response(null, { status: 503 });
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const started = serve({ fetch: (request) => fetchApp(request), port: 0, hostname: "127.0.0.1" }, () =>
        resolve(started),
      );
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const s = await scenarios.start({
        seed: 92,
        sim: {
          webhook: { url: `${base}/v1/webhooks/vast`, secret: CREDENTIALS.vastWebhookSecret as string },
        },
      });
      fetchApp = apiFor(s).fetch;
      const now = () => Math.floor(s.deps.clock.now() / 1000);

      const offers = await bodyOf<OfferSearchResult>(
        await fetch(`${base}/v1/offers?gpuType=4090&region=US&maxHourlyUsd=1`, { headers: auth }),
      );
      expect(offers.offers.length).toBeGreaterThan(0);
      expect(offers.offers[0]).toMatchObject({ rank: 1 });
      expect(offers.offers.every((o) => o.hourlyUsd <= 1)).toBe(true);

      const body = JSON.stringify(sampleJobRequestInput({ idempotencyKey: "order-http-1" }));
      const signed = {
        "content-type": "application/json",
        "x-vast-rental-timestamp": String(now()),
        "x-vast-rental-signature-256": signPayload(CREDENTIALS.submissionSecrets.shop as string, now(), body),
      };
      const submitted = await fetch(`${base}/v1/jobs`, { method: "POST", headers: signed, body });
      expect(submitted.status).toBe(202);
      const { jobId } = await bodyOf<SubmittedJob>(submitted);
      expect(submitted.headers.get("location")).toBe(`/v1/jobs/${jobId}`);
      // The same delivery again: refused as a replay.
      expect((await fetch(`${base}/v1/jobs`, { method: "POST", headers: signed, body })).status).toBe(409);

      await s.base.run(jobId, (j) => j.state === "pushing");
      const view = await bodyOf<JobView>(await fetch(`${base}/v1/jobs/${jobId}`, { headers: auth }));
      const instanceId = view.instance?.instanceId as number;
      expect(s.base.sim.admin.instance(instanceId)?.destroyedAtMs).toBeNull();
      expect(view).toMatchObject({ state: "pushing", attempt: 1, instance: { attempt: 1 } });
      expect(view.cost.ceilingUsd).toBeGreaterThanOrEqual(view.cost.totalUsd);
      const listed = await bodyOf<InstanceList>(await fetch(`${base}/v1/instances`, { headers: auth }));
      expect(listed.instances).toEqual([
        expect.objectContaining({ instanceId, owner: { jobId, attempt: 1 } }),
      ]);

      // Vast (the simulator) outbids the instance and sends its signed notification to us.
      await s.base.sim.admin.addFault({ kind: "outbid", instanceId });
      const reconciles = await pollUntil(async () => {
        const seen = s.events.of("Reconcile Requested");
        return seen.length > 0 ? seen : undefined;
      }, 5_000);
      expect(reconciles).toEqual([
        { trigger: "vast-webhook", eventId: expect.any(String), notification: "outbid" },
      ]);

      const terminated = await fetch(`${base}/v1/instances/${instanceId}`, {
        method: "DELETE",
        headers: auth,
      });
      expect(terminated.status).toBe(200);
      expect(await bodyOf<unknown>(terminated)).toEqual({ instanceId, held: "attempt", jobId });
      expect(destroyed(s, instanceId)).toBe(true);
      expect((await s.store.getAttempt(jobId, 1))?.endedAt).not.toBeNull();
      expect((await fetch(`${base}/v1/instances/${instanceId}`, { headers: auth })).status).toBe(404);

      // Refused by its declared length before a byte is read.
      const big = await fetch(`${base}/v1/jobs`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: "x".repeat(70_000),
      });
      expect(big.status).toBe(413);
      expect(big.headers.get("content-type")).toBe("application/problem+json");
      await expectInvariantsHold(s.base);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
