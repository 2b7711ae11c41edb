/**
 * Fuzzing the whole app (seeded, a few thousand requests): methods, paths, ids, query strings,
 * credentials, media types, idempotency keys, signatures and bodies drawn at random — valid
 * job requests with one field made hostile, arbitrary JSON, broken JSON, raw bytes, oversized
 * bodies. Whatever arrives: no 5xx, every refusal a problem+json that stores nothing, and no
 * response ever carries a secret.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalDynamo, startDynamoLocal } from "../../../../test/support/dynamodb";
import { instance } from "../../../../test/support/fake-vast";
import { sampleJobRequestInput } from "../../../../test/support/job-request";
import type { SubmittedJob } from "../../src/api";
import { signPayload } from "../../src/signing";
import {
  type ApiHarness,
  apiHarness,
  bodyOf,
  CREDENTIALS,
  NOW_S,
  OPS_KEY,
  SHOP_SECRET,
  VAST_API_KEY,
  VAST_SECRET,
} from "./support";

const SEED = 20260807;
const RUNS = 2500;

let dynamo: LocalDynamo;
let h: ApiHarness;
let knownJobId: string;

beforeAll(async () => {
  dynamo = await startDynamoLocal();
  h = await apiHarness(dynamo);
  h.vast.instances.set(10, instance(10, { label: "vast-rental:job_fuzz:1", state: "running" }));
  h.vast.instances.set(11, instance(11, { label: "someone-else", state: "running" }));
  const created = await h.app.request("/v1/jobs", {
    method: "POST",
    headers: { authorization: `Bearer ${OPS_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(sampleJobRequestInput()),
  });
  knownJobId = (await bodyOf<SubmittedJob>(created)).jobId;
});
afterAll(async () => {
  await dynamo?.stop();
});

const SECRETS = [
  OPS_KEY,
  SHOP_SECRET,
  VAST_SECRET,
  VAST_API_KEY,
  ...Object.values(CREDENTIALS.apiKeys),
].filter((s) => s.length >= 8);

/** Hostile strings: shell metacharacters, traversal, control characters, unicode, huge. */
const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    "../../etc/passwd",
    "$(rm -rf /)",
    "`id`",
    "; reboot",
    "a --w 8192 --h 8192",
    "\u0000\u0007\u001b[31m",
    "😀".repeat(10),
    "https://169.254.169.254/latest/meta-data",
    "https://user:pass@internal.corp/x.tar",
    "https://[::1]/x.tar",
    "__proto__",
    "constructor",
    OPS_KEY,
  ),
  fc.string({ minLength: 1, maxLength: 3 }).map((s) => s.repeat(3000)),
);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 3 }),
);

const JOB_FIELDS = Object.keys({
  ...sampleJobRequestInput(),
  numGpus: 1,
  minVramGb: 1,
  minReliability: 1,
  minDiskGb: 1,
  image: "",
  diskGb: 1,
  maxRuntimeMinutes: 1,
  bootTimeoutMinutes: 1,
  maxAttempts: 1,
  callbackUrl: "",
  idempotencyKey: "",
});

/** A valid request with one field replaced, removed or nested value broken. */
const jobBody = fc.oneof(
  fc.constant(sampleJobRequestInput()),
  fc
    .tuple(fc.constantFrom(...JOB_FIELDS, "extra"), hostileValue)
    .map(([field, value]) => ({ ...sampleJobRequestInput(), [field]: value })),
  fc.constantFrom(...JOB_FIELDS).map((field) => {
    const body: Record<string, unknown> = { ...sampleJobRequestInput() };
    delete body[field];
    return body;
  }),
  fc
    .tuple(fc.constantFrom("kind", "bucket", "prefix", "url", "path"), hostileValue)
    .map(([field, value]) => ({
      ...sampleJobRequestInput(),
      dataset: { kind: "s3", bucket: "b-1", [field]: value },
    })),
  fc
    .tuple(fc.constantFrom("triggerWord", "steps", "samplePrompts", "resolution", "seed"), hostileValue)
    .map(([field, value]) => ({
      ...sampleJobRequestInput(),
      training: { params: { triggerWord: "ohwx", [field]: value } },
    })),
);

const bodyText = fc.oneof(
  jobBody.map((b) => JSON.stringify(b)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom("", "{", "[1,", '{"a":1}garbage', "null", "[]".repeat(5000)),
  fc.constant(JSON.stringify({ ...sampleJobRequestInput(), pad: "x".repeat(70_000) })),
);

const idSegment = fc.oneof(
  fc.constant("KNOWN_JOB"),
  fc.constantFrom("10", "11", "0", "-1", "1e3", "9007199254740993", "job_nope", "%00", "..", "%2e%2e"),
  fc.string({ maxLength: 30 }).map(encodeURIComponent),
);

/** Real routes most of the time (so requests get past routing), anything some of the time. */
const target = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ method: "POST", path: "/v1/jobs" }) },
  { weight: 2, arbitrary: fc.constant({ method: "POST", path: "/v1/webhooks/vast" }) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom("/v1/jobs", "/v1/offers", "/v1/instances", "/health", "/openapi.json")
      .map((p) => ({
        method: "GET",
        path: p,
      })),
  },
  { weight: 1, arbitrary: idSegment.map((id) => ({ method: "GET", path: `/v1/jobs/${id}` })) },
  { weight: 1, arbitrary: idSegment.map((id) => ({ method: "POST", path: `/v1/jobs/${id}/cancel` })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(idSegment, fc.constantFrom("GET /", "DELETE /", "POST /stop", "POST /start"))
      .map(([id, op]) => {
        const [method, suffix] = op.split(" ") as [string, string];
        return { method, path: `/v1/instances/${id}${suffix === "/" ? "" : suffix}` };
      }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      method: fc.constantFrom("GET", "POST", "DELETE", "PUT", "PATCH"),
      path: fc.oneof(
        fc.constantFrom("/v1/jobs", "/v1/instances/10", "/", "/v1"),
        fc.string({ maxLength: 20 }).map((s) => `/v1/${encodeURIComponent(s)}`),
      ),
    }),
  },
);

const queryValue = fc.oneof(
  fc.constantFrom(
    "4090",
    "RTX 4090",
    "US",
    "EU",
    "1",
    "0.5",
    "-1",
    "NaN",
    "1e309",
    "queued",
    "queued,training",
  ),
  fc.string({ maxLength: 20 }),
);
const query = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        "gpuType",
        "maxHourlyUsd",
        "region",
        "numGpus",
        "minVramGb",
        "minReliability",
        "diskGb",
        "limit",
        "state",
        "cursor",
        "x",
      ),
      queryValue,
    ),
    { maxLength: 5 },
  )
  .map((pairs) => (pairs.length ? `?${new URLSearchParams(pairs).toString()}` : ""));

const auth = fc.oneof(
  { weight: 6, arbitrary: fc.constant("key") },
  { weight: 3, arbitrary: fc.constant("signed") },
  {
    weight: 3,
    arbitrary: fc.constantFrom("wrong-key", "garbage", "none", "bad-signature", "stale-signature"),
  },
);

const request = fc.record({
  target,
  query,
  auth,
  contentType: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom("application/json", "application/json; charset=utf-8") },
    { weight: 1, arbitrary: fc.constantFrom("text/plain", "application/merge-patch+json", null) },
  ),
  idempotencyKey: fc.option(fc.oneof(fc.constantFrom("order-1", "order-2"), fc.string({ maxLength: 20 })), {
    nil: null,
    freq: 2,
  }),
  body: fc.option(
    fc.oneof({ weight: 8, arbitrary: bodyText }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) }),
    {
      nil: null,
      freq: 8,
    },
  ),
  vastSigned: fc.boolean(),
});

type FuzzRequest = typeof request extends fc.Arbitrary<infer T> ? T : never;

function toRequest(r: FuzzRequest): [string, RequestInit] {
  const headers: Record<string, string> = {};
  const bodyBytes = r.body === null ? "" : r.body;
  const signed = (secret: string, ts: number) => signPayload(secret, ts, bodyBytes);
  switch (r.auth) {
    case "key":
      headers.authorization = `Bearer ${OPS_KEY}`;
      break;
    case "wrong-key":
      headers.authorization = "Bearer not-a-key-0123456789abcdef";
      break;
    case "garbage":
      headers.authorization = "Basic Og==";
      break;
    case "signed":
      headers["x-vast-rental-timestamp"] = String(NOW_S);
      headers["x-vast-rental-signature-256"] = signed(SHOP_SECRET, NOW_S);
      break;
    case "bad-signature":
      headers["x-vast-rental-timestamp"] = String(NOW_S);
      headers["x-vast-rental-signature-256"] = signed("not-the-shop-secret-0123", NOW_S);
      break;
    case "stale-signature":
      headers["x-vast-rental-timestamp"] = String(NOW_S - 3600);
      headers["x-vast-rental-signature-256"] = signed(SHOP_SECRET, NOW_S - 3600);
      break;
  }
  if (r.vastSigned) {
    headers["x-vast-timestamp"] = String(NOW_S);
    headers["x-vast-signature-256"] = signed(VAST_SECRET, NOW_S);
  }
  if (r.contentType) headers["content-type"] = r.contentType;
  if (r.idempotencyKey !== null) headers["idempotency-key"] = r.idempotencyKey.replace(/[^\x20-\x7e]/g, "");
  const { method, path } = r.target;
  const withBody = r.body !== null && method !== "GET";
  const url = path.replace("KNOWN_JOB", knownJobId) + r.query;
  return [url, { method, headers, ...(withBody ? { body: r.body } : {}) }];
}

describe("fuzzing the app", () => {
  it(`answers ${RUNS} random requests without a 5xx, storing nothing for any refusal`, async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const [url, init] = toRequest(r);
        const writesBefore = h.writes.length;
        const response = await h.app.request(url, init);
        const text = await response.text();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        expect(response.status, `${init.method} ${url}: ${text.slice(0, 300)}`).toBeLessThan(500);
        for (const secret of SECRETS) expect(text).not.toContain(secret);
        if (response.status >= 400) {
          expect(response.headers.get("content-type")).toBe("application/problem+json");
          expect(JSON.parse(text)).toMatchObject({ status: response.status, type: expect.any(String) });
          expect(h.writes.slice(writesBefore), `${init.method} ${url} (${response.status})`).toEqual([]);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    // The run exercised both sides: accepted work and each kind of refusal.
    const seen = [...statuses.keys()];
    for (const status of [200, 202, 400, 401, 403, 404, 409, 413, 415, 422])
      expect(seen, String(status)).toContain(status);
    console.info("fuzz: responses by status", Object.fromEntries([...statuses].sort(([a], [b]) => a - b)));
    // Jobs in the table: one per new job stored (the one made in beforeAll included), no more.
    const jobs = (await h.dynamo.listJobs()).jobs;
    expect(jobs.length).toBe(h.writes.filter((w) => w === "createJob").length);
    expect(jobs.length).toBeGreaterThan(1);
  }, 60_000);
});
