/**
 * `/v1/jobs` through `app.request()`: submission (API key and signed), idempotency, every
 * refusal (and that it stores nothing), listing, the job view, and cancel.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { sampleJobRequestInput } from "../../../../test/support/job-request";
import {
  DEFAULT_MAX_BODY_BYTES,
  type JobList,
  type JobSummary,
  type JobView,
  type SubmittedJob,
} from "../../src/api";
import { parseOutboundAllowHosts } from "../../src/net";
import { InMemoryJobQueue } from "../../src/queue";
import {
  type ApiHarness,
  bearer,
  bodyOf,
  jsonHeaders,
  NOW_MS,
  NOW_S,
  problemOf,
  SHOP_SECRET,
  signedHeaders,
  useApiHarness,
  VAST_API_KEY,
} from "./support";

const api = useApiHarness();
let h: ApiHarness;
beforeEach(() => {
  h = api.current();
});

const submit = (body: unknown, headers: Record<string, string> = jsonHeaders()) =>
  h.app.request("/v1/jobs", {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

async function expectNothingStored() {
  expect(h.writes).toEqual([]);
  expect((await h.dynamo.listJobs()).jobs).toEqual([]);
  expect(h.queue.sent).toEqual([]);
  expect(h.events.events).toEqual([]);
}

describe("POST /v1/jobs", () => {
  it("stores the job, queues its provisioning, and answers 202 with its id and a Location", async () => {
    const response = await submit(sampleJobRequestInput());
    expect(response.status).toBe(202);
    const body = await bodyOf<SubmittedJob>(response);
    expect(body).toEqual({ jobId: expect.stringMatching(/^job_/), status: "queued", created: true });
    expect(response.headers.get("location")).toBe(`/v1/jobs/${body.jobId}`);
    expect((await h.dynamo.getJob(body.jobId))?.state).toBe("queued");
    expect(h.queue.sent.map((s) => s.message)).toEqual([{ type: "provision", jobId: body.jobId }]);
    expect(h.events.of("Job Submitted")).toHaveLength(1);
  });

  it.each([
    [{ maxHourlyUsd: -1 }, "maxHourlyUsd", "maxHourlyUsd must be greater than 0"],
    [{ gpuType: "Banana 9000" }, "gpuType", 'Unknown GPU type "Banana 9000"'],
    [{ region: "Atlantis" }, "region", 'Unknown region "Atlantis"'],
    [{ dataset: { kind: "s3", bucket: "b-1", prefix: "../etc" } }, "dataset.prefix", "'..' path segments"],
    [
      { dataset: { kind: "local", path: "/data" } },
      "dataset",
      "local folders are only accepted by the local stack",
    ],
    [{ budgetUsd: "ten" }, "budgetUsd", "expected number"],
    [
      { training: { template: "sdxl-lora", params: { triggerWord: "x" } } },
      "training.template",
      'expected one of "flux-lora-24gb"|"flux-lora-low-vram"',
    ],
    [{ minInetDownMbps: -5 }, "minInetDownMbps", ">=0"],
    [{ image: "ostris/aitoolkit; reboot" }, "image", "Docker image reference"],
  ])(
    "refuses %j with 422 naming the field and the reason, storing nothing",
    async (override, path, reason) => {
      const response = await submit(sampleJobRequestInput(override as object));
      expect(response.status).toBe(422);
      const problem = await problemOf(response);
      expect(problem.type).toBe("urn:vast-rental:problem:validation-failed");
      expect(problem.errors).toContainEqual({ path, message: expect.stringContaining(reason) });
      expect(problem.detail).toContain(reason);
      await expectNothingStored();
    },
  );

  it("refuses unknown keys (a misspelt option is an error, not ignored)", async () => {
    const response = await submit({ ...sampleJobRequestInput(), maxHourlyUSD: 2 });
    expect(response.status).toBe(422);
    expect((await problemOf(response)).detail).toContain("maxHourlyUSD");
    await expectNothingStored();
  });

  it("answers 400 for a body that is not JSON, or not UTF-8, or empty", async () => {
    for (const body of ['{"gpuType": "4090",', "", "\uFFFD"]) {
      const response = await submit(body);
      expect(response.status, body).toBe(400);
      expect((await problemOf(response)).type).toBe("urn:vast-rental:problem:malformed-request");
    }
    const bad = await h.app.request("/v1/jobs", {
      method: "POST",
      headers: jsonHeaders(),
      body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
    });
    expect((await problemOf(bad)).detail).toBe("the body is not valid UTF-8");
    await expectNothingStored();
  });

  it("answers 415 for a body not declared as JSON", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", undefined]) {
      const headers: Record<string, string> = { ...bearer(), ...(type ? { "content-type": type } : {}) };
      const response = await submit(sampleJobRequestInput(), headers);
      expect(response.status, String(type)).toBe(415);
      await problemOf(response);
    }
    await expectNothingStored();
  });

  it("refuses a body over the limit with 413 before parsing it, with or without Content-Length", async () => {
    const big = JSON.stringify({ ...sampleJobRequestInput(), pad: "x".repeat(DEFAULT_MAX_BODY_BYTES) });
    const declared = await submit(big, { ...jsonHeaders(), "content-length": String(big.length) });
    expect(declared.status).toBe(413);
    expect((await problemOf(declared)).detail).toBe(
      `the request body is larger than the limit of ${DEFAULT_MAX_BODY_BYTES} bytes`,
    );
    // Streamed (no Content-Length): counted as it arrives.
    const streamed = await h.app.request("/v1/jobs", {
      method: "POST",
      headers: jsonHeaders(),
      body: new Blob([big]).stream(),
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    await expectNothingStored();
  });

  it("checks size before credentials, and credentials before the body", async () => {
    const big = "x".repeat(DEFAULT_MAX_BODY_BYTES + 1);
    expect((await submit(big, { "content-type": "application/json" })).status).toBe(413);
    expect((await submit("not json", { "content-type": "text/plain" })).status).toBe(401);
  });

  describe("idempotency", () => {
    it("the same key and body answer the same job; a different body is a 409", async () => {
      const request = sampleJobRequestInput({ idempotencyKey: "order-1" });
      const first = await bodyOf<SubmittedJob>(await submit(request));
      const again = await submit(request);
      expect(again.status).toBe(202);
      expect(await bodyOf<SubmittedJob>(again)).toEqual({
        jobId: first.jobId,
        status: "queued",
        created: false,
      });
      const other = await submit({ ...request, budgetUsd: 99 });
      expect(other.status).toBe(409);
      const problem = await problemOf(other);
      expect(problem.type).toBe("urn:vast-rental:problem:idempotency-conflict");
      expect(problem.detail).toContain("order-1");
      expect((await h.dynamo.listJobs()).jobs).toHaveLength(1);
    });

    it("takes the key from the Idempotency-Key header; body and header must agree when both are sent", async () => {
      const request = sampleJobRequestInput();
      const headers = { ...jsonHeaders(), "idempotency-key": "order-2" };
      const first = await bodyOf<SubmittedJob>(await submit(request, headers));
      // The same key in the body: the same job.
      const viaBody = await bodyOf<SubmittedJob>(await submit({ ...request, idempotencyKey: "order-2" }));
      expect(viaBody).toMatchObject({ jobId: first.jobId, created: false });
      // Both, agreeing: the same job.
      const both = await bodyOf<SubmittedJob>(
        await submit({ ...request, idempotencyKey: "order-2" }, headers),
      );
      expect(both).toMatchObject({ jobId: first.jobId, created: false });
      expect((await h.dynamo.getJob(first.jobId))?.idempotencyKey).toBe("order-2");

      const disagree = await submit({ ...request, idempotencyKey: "order-3" }, headers);
      expect(disagree.status).toBe(422);
      expect((await problemOf(disagree)).errors).toEqual([
        {
          path: "idempotencyKey",
          message: "differs from the Idempotency-Key header; send the key once, or the same in both",
        },
      ]);
      const badHeader = await submit(request, { ...jsonHeaders(), "idempotency-key": "a b" });
      expect(badHeader.status).toBe(422);
      expect((await problemOf(badHeader)).errors?.[0]?.path).toBe("Idempotency-Key");
      expect((await h.dynamo.listJobs()).jobs).toHaveLength(1);
    });
  });

  describe("signed submissions", () => {
    const body = JSON.stringify(sampleJobRequestInput());

    it("accept a valid signature once; the same delivery again is a 409", async () => {
      const headers = signedHeaders(body);
      const response = await submit(body, headers);
      expect(response.status).toBe(202);
      const replay = await submit(body, headers);
      expect(replay.status).toBe(409);
      const problem = await problemOf(replay);
      expect(problem.type).toBe("urn:vast-rental:problem:replayed-request");
      expect(JSON.stringify(problem)).not.toContain(headers["x-vast-rental-signature-256"]);
      // Signed anew a second later: a new delivery.
      expect((await submit(body, signedHeaders(body, SHOP_SECRET, NOW_S + 1))).status).toBe(202);
      expect((await h.dynamo.listJobs()).jobs).toHaveLength(2);
    });

    it("refuse a bad, stale or malformed signature with 401, storing nothing", async () => {
      const cases: [Record<string, string>, string][] = [
        [signedHeaders(body, "not-the-shop-secret-at-all"), "does not match"],
        [signedHeaders(`${body} `), "does not match"],
        [signedHeaders(body, SHOP_SECRET, NOW_S - 301), "more than 300 s"],
        [signedHeaders(body, SHOP_SECRET, NOW_S + 301), "more than 300 s"],
        [{ ...signedHeaders(body), "x-vast-rental-signature-256": "md5=abc" }, "send both"],
        [{ ...signedHeaders(body), "x-vast-rental-timestamp": "soon" }, "send both"],
      ];
      for (const [headers, reason] of cases) {
        const response = await submit(body, headers);
        expect(response.status).toBe(401);
        expect((await problemOf(response)).detail).toContain(reason);
      }
      await expectNothingStored();
    });

    it("accepts the edge of the window (300 s either way)", async () => {
      expect((await submit(body, signedHeaders(body, SHOP_SECRET, NOW_S - 300))).status).toBe(202);
    });

    it("an invalid request validly signed is a 422 and does not use up the signature", async () => {
      const bad = JSON.stringify(sampleJobRequestInput({ maxHourlyUsd: 0 }));
      const headers = signedHeaders(bad);
      expect((await submit(bad, headers)).status).toBe(422);
      expect((await submit(bad, headers)).status).toBe(422);
      await expectNothingStored();
    });

    it("a submission the store fails releases its signature: the same delivery retried is accepted", async () => {
      const createJob = h.dynamo.createJob;
      h.dynamo.createJob = async () => {
        h.dynamo.createJob = createJob;
        throw Object.assign(new Error("DynamoDB unavailable"), { name: "ServiceUnavailable" });
      };
      const headers = signedHeaders(body);
      const failed = await submit(body, headers);
      expect(failed.status).toBe(500);
      await expectNothingStored();
      const retried = await submit(body, headers);
      expect(retried.status).toBe(202);
      expect(await bodyOf<SubmittedJob>(retried)).toMatchObject({ created: true });
      expect((await h.dynamo.listJobs()).jobs).toHaveLength(1);
      // Accepted now, so spent now.
      expect((await submit(body, headers)).status).toBe(409);
      expect((await h.dynamo.listJobs()).jobs).toHaveLength(1);
    });

    it("a keyed submission the queue fails releases its signature: the retry answers the stored job", async () => {
      const queue = new InMemoryJobQueue();
      const enqueue = queue.enqueue.bind(queue);
      let failures = 1;
      queue.enqueue = async (...args) => {
        if (failures-- > 0) throw new Error("SQS unavailable");
        return enqueue(...args);
      };
      const f = await api.make({ queue });
      const keyed = JSON.stringify(sampleJobRequestInput({ idempotencyKey: "order-q" }));
      const headers = signedHeaders(keyed);
      const send = () => f.app.request("/v1/jobs", { method: "POST", headers, body: keyed });
      expect((await send()).status).toBe(500);
      const retried = await send();
      expect(retried.status).toBe(202);
      const job = await bodyOf<SubmittedJob>(retried);
      expect(job).toMatchObject({ status: "queued", created: false });
      expect((await f.dynamo.listJobs()).jobs.map((j) => j.jobId)).toEqual([job.jobId]);
      expect(queue.sent.map((s) => s.message)).toEqual([{ type: "provision", jobId: job.jobId }]);
      expect((await send()).status).toBe(409);
    });

    it("an unkeyed submission stored before the queue failed keeps its signature spent: no second job", async () => {
      const queue = new InMemoryJobQueue();
      queue.enqueue = async () => {
        throw new Error("SQS unavailable");
      };
      const f = await api.make({ queue });
      const headers = signedHeaders(body);
      const send = () => f.app.request("/v1/jobs", { method: "POST", headers, body });
      expect((await send()).status).toBe(500);
      const retried = await send();
      expect(retried.status).toBe(409);
      expect((await problemOf(retried)).type).toBe("urn:vast-rental:problem:replayed-request");
      // The one job stays queued; the reaper re-queues a stale one.
      expect((await f.dynamo.listJobs()).jobs.map((j) => j.state)).toEqual(["queued"]);
    });

    it("an idempotency conflict releases its signature and stores nothing", async () => {
      expect((await submit(sampleJobRequestInput({ idempotencyKey: "order-c" }))).status).toBe(202);
      const writes = h.writes.length;
      const other = JSON.stringify(sampleJobRequestInput({ idempotencyKey: "order-c", maxHourlyUsd: 0.9 }));
      const headers = signedHeaders(other);
      for (let i = 0; i < 2; i++) {
        const response = await submit(other, headers);
        expect(response.status).toBe(409);
        expect((await problemOf(response)).type).toBe("urn:vast-rental:problem:idempotency-conflict");
      }
      expect(h.writes.slice(writes)).toEqual([]);
      expect((await h.dynamo.listJobs()).jobs).toHaveLength(1);
    });

    it("refuse an Idempotency-Key header the signed body does not carry (422), spending nothing", async () => {
      const headerOnly = await submit(body, { ...signedHeaders(body), "idempotency-key": "order-h" });
      expect(headerOnly.status).toBe(422);
      const problem = await problemOf(headerOnly);
      expect(problem.type).toBe("urn:vast-rental:problem:validation-failed");
      expect(problem.errors).toEqual([
        {
          path: "idempotencyKey",
          message: expect.stringContaining("must carry its idempotency key in the signed body"),
        },
      ]);
      await expectNothingStored();
      // A key signed in the body, with or without the same header, is accepted.
      const keyed = JSON.stringify(sampleJobRequestInput({ idempotencyKey: "order-h" }));
      const same = await submit(keyed, { ...signedHeaders(keyed), "idempotency-key": "order-h" });
      expect(same.status).toBe(202);
      const other = await submit(keyed, {
        ...signedHeaders(keyed, SHOP_SECRET, NOW_S + 1),
        "idempotency-key": "x",
      });
      expect(other.status).toBe(422);
      expect((await problemOf(other)).errors?.[0]?.path).toBe("idempotencyKey");
      // The refused delivery's signature was never spent: sent without the header, it is accepted.
      expect((await submit(body, signedHeaders(body))).status).toBe(202);
      expect((await h.dynamo.listJobs()).jobs.map((j) => j.idempotencyKey).sort()).toEqual([null, "order-h"]);
    });
  });

  it("holds URLs to the outbound rules: loopback refused unless the deployment allows the host", async () => {
    const loopback = sampleJobRequestInput({
      dataset: { kind: "https", url: "https://127.0.0.1:8443/d.tar" },
    });
    const refused = await submit(loopback);
    expect(refused.status).toBe(422);
    expect((await problemOf(refused)).errors).toContainEqual({
      path: "dataset.url",
      message: expect.stringContaining("may not point at a private or loopback address"),
    });
    await expectNothingStored();
    // The local stack's allowlist: the same request is accepted, keyed or signed.
    const local = await api.make({ outbound: parseOutboundAllowHosts("127.0.0.1") });
    const body = JSON.stringify(loopback);
    for (const headers of [jsonHeaders(), signedHeaders(body)]) {
      const response = await local.app.request("/v1/jobs", { method: "POST", headers, body });
      expect(response.status).toBe(202);
    }
  });

  it("never echoes a secret in an error", async () => {
    const response = await submit({ ...sampleJobRequestInput(), [VAST_API_KEY]: 1 });
    expect(response.status).toBe(422);
    expect(await response.text()).not.toContain(VAST_API_KEY);
  });
});

describe("GET /v1/jobs", () => {
  it("lists jobs by state with cursor paging", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      h.clock.set(NOW_MS + i * 1000);
      ids.push((await bodyOf<SubmittedJob>(await submit(sampleJobRequestInput()))).jobId);
    }
    const first = await h.app.request("/v1/jobs?state=queued&limit=2", { headers: bearer() });
    expect(first.status).toBe(200);
    const page1 = await bodyOf<JobList>(first);
    expect(page1.jobs.map((j) => j.jobId)).toEqual([ids[2], ids[1]]);
    expect(page1.jobs[0]).toMatchObject({ state: "queued", gpuType: "RTX 4090", spentUsd: 0, costUsd: null });
    const page2 = await bodyOf<JobList>(
      await h.app.request(`/v1/jobs?state=queued&limit=2&cursor=${page1.nextCursor}`, { headers: bearer() }),
    );
    expect(page2.jobs.map((j) => j.jobId)).toEqual([ids[0]]);
    const none = await bodyOf<JobList>(
      await h.app.request("/v1/jobs?state=failed,cancelled", { headers: bearer() }),
    );
    expect(none).toEqual({ jobs: [], nextCursor: null });
  });

  it("answers 400 for a bad state, limit or cursor", async () => {
    const cases: [string, string][] = [
      ["state=running", "state.0"],
      ["limit=0", "limit"],
      ["limit=many", "limit"],
    ];
    for (const [query, path] of cases) {
      const response = await h.app.request(`/v1/jobs?${query}`, { headers: bearer() });
      expect(response.status, query).toBe(400);
      expect((await problemOf(response)).errors?.map((e) => e.path)).toContain(path);
    }
    const forged = Buffer.from(JSON.stringify({ index: 0, key: { pk: "nope" } })).toString("base64url");
    for (const cursor of ["garbage", forged]) {
      const response = await h.app.request(`/v1/jobs?cursor=${cursor}`, { headers: bearer() });
      expect(response.status, cursor).toBe(400);
      expect((await problemOf(response)).type).toBe("urn:vast-rental:problem:invalid-cursor");
    }
  });
});

describe("GET /v1/jobs/{id}", () => {
  it("shows state, attempts, the instance, cost so far with breakdown, progress and the timeline", async () => {
    const { jobId } = await bodyOf<SubmittedJob>(
      await submit(
        sampleJobRequestInput({
          dataset: { kind: "https", url: "https://data.example.com/cats.tar?X-Amz-Signature=deadbeef" },
          callbackUrl: "https://hooks.example.com/t?token=s3cr3t",
        }),
      ),
    );
    let job = (await h.dynamo.getJob(jobId))!;
    job = await h.dynamo.transition(jobId, job.version, { type: "provision_started", reason: "test" });
    job = await h.dynamo.recordAttemptStarted(jobId, job.version, {
      attempt: 1,
      offerId: 5,
      machineId: 50,
      hourlyUsd: 0.5,
      gpuName: "RTX 4090",
      label: `vast-rental:${jobId}:1`,
      gpuHourlyUsd: 0.4,
      storageHourlyUsd: 0.1,
      bandwidthUsdPerGb: 0,
    });
    await h.dynamo.recordInstanceId(jobId, 1, 777, NOW_MS);
    await h.dynamo.updateAttempt(jobId, 1, {
      sshHost: "10.1.2.3",
      sshPort: 2222,
      hostKeyFingerprint: "SHA256:pinned",
      runningSince: NOW_MS,
    });
    await h.dynamo.appendTimeline(jobId, {
      at: NOW_MS + 1000,
      version: job.version,
      kind: "note",
      reason: "training step 500/2000",
      details: { kind: "progress", attempt: 1, step: 500, totalSteps: 2000 },
    });
    await h.dynamo.appendTimeline(jobId, {
      at: NOW_MS + 500,
      version: job.version,
      kind: "note",
      reason: "dataset push: 4096 bytes so far",
      details: {
        kind: "push_progress",
        attempt: 1,
        files: 3,
        bytes: 4096,
        totalBytes: 8192,
        bytesPerSecond: 2048,
      },
    });
    h.clock.set(NOW_MS + 3_600_000);

    const response = await h.app.request(`/v1/jobs/${jobId}`, { headers: bearer() });
    expect(response.status).toBe(200);
    const view = await bodyOf<JobView>(response);
    expect(view).toMatchObject({
      jobId,
      state: "provisioning",
      attempt: 1,
      instance: { instanceId: 777, attempt: 1, sshHost: "10.1.2.3", sshPort: 2222, hourlyUsd: 0.5 },
      progress: { attempt: 1, step: 500, totalSteps: 2000, fraction: 0.25 },
      upload: { attempt: 1, bytes: 4096, totalBytes: 8192, bytesPerSecond: 2048, done: false },
      request: {
        dataset: { kind: "https", url: "https://data.example.com/cats.tar" },
        callbackUrl: "https://hooks.example.com/t",
      },
    });
    // One hour: GPU 0.4 + disk 0.1 billed; the budget ceiling charges the full rate since the create.
    expect(view.cost.openAttemptUsd).toBeCloseTo(0.5, 6);
    expect(view.cost.breakdown.gpuUsd).toBeCloseTo(0.4, 6);
    expect(view.cost.breakdown.storageUsd).toBeCloseTo(0.1, 6);
    expect(view.cost).toMatchObject({ budgetUsd: 20, spentUsd: 0, finalUsd: null });
    expect(view.cost.ceilingUsd).toBeCloseTo(0.5, 6);
    expect(view.attempts).toHaveLength(1);
    expect(view.attempts[0]).toMatchObject({ attempt: 1, instanceId: 777, outcome: "rented", offerId: 5 });
    expect(view.timeline.map((e) => e.reason)).toContain("training step 500/2000");
    const text = JSON.stringify(view);
    for (const hidden of [
      "SHA256:pinned",
      "deadbeef",
      "s3cr3t",
      "hostKeyFingerprint",
      "readinessMessageId",
    ]) {
      expect(text).not.toContain(hidden);
    }
  });

  it("answers 404 for an unknown job and 400 for an id no job can have", async () => {
    const missing = await h.app.request("/v1/jobs/job_nope", { headers: bearer() });
    expect(missing.status).toBe(404);
    expect((await problemOf(missing)).detail).toBe("job job_nope does not exist");
    expect((await h.app.request("/v1/jobs/a%20b", { headers: bearer() })).status).toBe(400);
  });
});

describe("POST /v1/jobs/{id}/cancel", () => {
  it("cancels a queued job (with an optional reason), then refuses to cancel it again", async () => {
    const { jobId } = await bodyOf<SubmittedJob>(await submit(sampleJobRequestInput()));
    const response = await h.app.request(`/v1/jobs/${jobId}/cancel`, {
      method: "POST",
      headers: jsonHeaders(),
      body: JSON.stringify({ reason: "customer withdrew" }),
    });
    expect(response.status).toBe(200);
    expect(await bodyOf<JobSummary>(response)).toMatchObject({
      jobId,
      state: "cancelled",
      reason: 'customer withdrew (API key "ops")',
      costUsd: 0,
    });
    const again = await h.app.request(`/v1/jobs/${jobId}/cancel`, { method: "POST", headers: bearer() });
    expect(again.status).toBe(409);
    expect((await problemOf(again)).detail).toBe(`job ${jobId} has already ended (cancelled)`);
  });

  it("without a body uses a default reason; refuses a bad body before touching the job", async () => {
    const { jobId } = await bodyOf<SubmittedJob>(await submit(sampleJobRequestInput()));
    const writesBefore = h.writes.length;
    const notJson = await h.app.request(`/v1/jobs/${jobId}/cancel`, {
      method: "POST",
      headers: { ...bearer(), "content-type": "text/plain" },
      body: "please",
    });
    expect(notJson.status).toBe(415);
    const unknownKey = await h.app.request(`/v1/jobs/${jobId}/cancel`, {
      method: "POST",
      headers: jsonHeaders(),
      body: JSON.stringify({ why: "x" }),
    });
    expect(unknownKey.status).toBe(422);
    expect(h.writes.length).toBe(writesBefore);
    const ok = await h.app.request(`/v1/jobs/${jobId}/cancel`, { method: "POST", headers: bearer() });
    expect(await bodyOf<JobSummary>(ok)).toMatchObject({
      state: "cancelled",
      reason: 'cancelled through the API (API key "ops")',
    });
  });

  it("answers 404 for an unknown job", async () => {
    const response = await h.app.request("/v1/jobs/job_nope/cancel", { method: "POST", headers: bearer() });
    expect(response.status).toBe(404);
  });
});
