/**
 * `POST /v1/jobs` throughput and p99 latency against a bare Hono route, on the same machine. Run:
 *   npm exec -- tsx test/bench/api.ts [--seconds 10] [--connections 10] [--warmup 2]
 *
 * Both apps are served by `@hono/node-server` on loopback in this process; autocannon drives them
 * from a worker thread (so the load generator does not share the servers' event loop), one after
 * the other, same body, same connections:
 * - bare: a Hono route that parses the JSON body and answers 202 — what Hono and Node cost alone;
 * - api: `createApiApp` as deployed — body limit, API key check (hashes, constant-time compare),
 *   JSON parse, `submitJob` (zod validation, the GPU/region check, a conditional DynamoDB
 *   transaction writing the job and its timeline entry), `provision` enqueued, `Job Submitted`
 *   announced. The store is the real one on DynamoDB Local; the queue and the event bus are in
 *   memory (their cost is one AWS SDK call each in production, not what this bench is about).
 * - api, store stubbed: the same app with a store whose `createJob` answers at once — the API's
 *   own cost (HTTP layer, auth, validation) without DynamoDB Local, whose transactions dominate
 *   the figure above (DynamoDB Local answers a transaction in tens of ms on this machine; real
 *   DynamoDB in a few).
 * Every request is a new job (no idempotency key). Prints requests/s, p50 and p99 latency of each
 * and the ratios, and DynamoDB Local's own latency for the job's write measured alone. Exits 1
 * when any answer is not 2xx. Not part of `npm test`.
 */
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import autocannon from "autocannon";
import { Hono } from "hono";
import { createApiApp } from "../../packages/core/src/api";
import { systemClock } from "../../packages/core/src/clock";
import { InMemoryEventPublisher } from "../../packages/core/src/events";
import { JobRequestSchema, requestHash } from "../../packages/core/src/jobs";
import { silentLogger } from "../../packages/core/src/observability";
import { InMemoryJobQueue } from "../../packages/core/src/queue";
import { DynamoJobStore, type JobRecord, type JobStore } from "../../packages/core/src/store";
import { startDynamoLocal } from "../support/dynamodb";
import { FakeVast } from "../support/fake-vast";
import { sampleJobRequestInput } from "../support/job-request";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1] ?? fallback) : fallback;
}
const SECONDS = arg("seconds", 10);
const CONNECTIONS = arg("connections", 10);
const WARMUP = arg("warmup", 2);

const API_KEY = `bench-${randomBytes(16).toString("hex")}`;
const BODY = JSON.stringify(sampleJobRequestInput());
const HEADERS = { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" };

type Fetch = (request: Request) => Response | Promise<Response>;

async function listen(fetch: Fetch): Promise<{ url: string; close(): Promise<void> }> {
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const started = serve({ fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(started));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  bad: number;
}

async function load(url: string, duration: number): Promise<Figures> {
  const result = await autocannon({
    url: `${url}/v1/jobs`,
    method: "POST",
    headers: HEADERS,
    body: BODY,
    connections: CONNECTIONS,
    duration,
    workers: 1,
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    bad: result.non2xx + result.errors + result.timeouts,
  };
}

async function measure(name: string, url: string): Promise<Figures> {
  if (WARMUP > 0) await load(url, WARMUP);
  const figures = await load(url, SECONDS);
  console.log(
    `${name.padEnd(5)} ${figures.rps.toFixed(0).padStart(7)} req/s   p50 ${String(figures.p50).padStart(4)} ms   p99 ${String(figures.p99).padStart(4)} ms   (${figures.requests} requests, ${figures.bad} not 2xx)`,
  );
  return figures;
}

/** A store whose only working method is `createJob`, answering at once. */
function stubStore(): JobStore {
  const createJob: JobStore["createJob"] = async ({ jobId, request }) => ({
    job: { jobId, state: "queued", request } as JobRecord,
    created: true,
  });
  return new Proxy({ createJob } as JobStore, {
    get: (target, prop) => {
      if (prop === "createJob") return target.createJob;
      if (prop === "then") return undefined;
      throw new Error(`the stub store has no ${String(prop)}`);
    },
  });
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** The job write alone, one at a time: what each accepted submission waits for at the least. */
async function storeLatency(store: DynamoJobStore, n = 100): Promise<{ p50: number; p99: number }> {
  const request = JobRequestSchema.parse(sampleJobRequestInput());
  const hash = requestHash(request);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await store.createJob({
      jobId: `job_lat${i}${randomBytes(4).toString("hex")}`,
      request,
      requestHash: hash,
    });
    times.push(performance.now() - started);
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

async function main(): Promise<number> {
  const dynamo = await startDynamoLocal();
  const bare = new Hono().post("/v1/jobs", async (c) => {
    await c.req.json();
    return c.json({ jobId: "job_bare", status: "queued", created: true }, 202);
  });
  const store = new DynamoJobStore({ client: dynamo.doc, tableName: await dynamo.createJobsTable() });
  const queue = new InMemoryJobQueue();
  const api = createApiApp({
    store,
    vast: new FakeVast(),
    queue,
    events: new InMemoryEventPublisher(),
    clock: systemClock,
    logger: silentLogger,
    secrets: [API_KEY],
    credentials: () => ({ apiKeys: { bench: API_KEY }, submissionSecrets: {}, vastWebhookSecret: null }),
  });
  const stubbed = createApiApp({
    store: stubStore(),
    vast: new FakeVast(),
    queue: new InMemoryJobQueue(),
    events: new InMemoryEventPublisher(),
    clock: systemClock,
    logger: silentLogger,
    secrets: [API_KEY],
    credentials: () => ({ apiKeys: { bench: API_KEY }, submissionSecrets: {}, vastWebhookSecret: null }),
  });
  const servers = [await listen(bare.fetch), await listen(api.fetch), await listen(stubbed.fetch)];
  try {
    console.log(
      `POST /v1/jobs, ${CONNECTIONS} connections, ${SECONDS} s each after ${WARMUP} s of warm-up; Node ${process.version}`,
    );
    const b = await measure("bare", servers[0]!.url);
    const a = await measure("api", servers[1]!.url);
    const st = await measure("stub", servers[2]!.url);
    const ratio = (x: Figures) =>
      `throughput ${(x.rps / b.rps).toFixed(3)} of bare (${(b.rps / x.rps).toFixed(1)}x fewer), p99 ${(x.p99 / Math.max(1, b.p99)).toFixed(1)}x`;
    console.log(`ratio api/bare:                ${ratio(a)}`);
    console.log(`ratio api (store stubbed)/bare: ${ratio(st)}`);
    const alone = await storeLatency(store);
    console.log(
      `DynamoDB Local, the job's write alone (sequential): p50 ${alone.p50.toFixed(1)} ms, p99 ${alone.p99.toFixed(1)} ms`,
    );
    console.log(`api stored ${queue.sent.length} jobs on DynamoDB Local (each answered 202 after its write)`);
    if (a.bad > 0 || b.bad > 0 || st.bad > 0 || queue.sent.length === 0) {
      console.error("some requests were not answered 2xx");
      return 1;
    }
    return 0;
  } finally {
    for (const server of servers) await server.close();
    await dynamo.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
