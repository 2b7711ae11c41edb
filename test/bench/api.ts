/**
 * `POST /v1/jobs` throughput and p99 latency against a bare Hono route, on the same machine. Run:
 *   npx tsx test/bench/api.ts [--seconds 10] [--connections 10] [--warmup 2] [--rounds 3]
 *
 * The three targets are served by `@hono/node-server` on loopback in this process; autocannon drives
 * them from a worker thread (so the load generator does not share the servers' event loop), one after
 * the other, same body, same connections, in interleaved rounds (every target once per round, the
 * order rotating) so that load drifting on the machine touches them alike; figures are medians over
 * the rounds and ratios are taken within a round:
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
 * when any answer is not 2xx. `runApiBenchmark` is the same thing as a function.
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
import { type BenchLog, Flags, isMain, median, percentile, round, stderrLog } from "./common";

const API_KEY = `bench-${randomBytes(16).toString("hex")}`;
const BODY = JSON.stringify(sampleJobRequestInput());
const HEADERS = { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" };

export interface ApiBenchOptions {
  /** Seconds of load per target per round. */
  seconds: number;
  connections: number;
  /** Seconds of load per target before the first round (not measured). */
  warmup: number;
  /** Interleaved rounds (every target once per round, in a rotating order); figures are medians. */
  rounds: number;
  log: BenchLog;
}

export const DEFAULT_API_BENCH_OPTIONS: ApiBenchOptions = {
  seconds: 10,
  connections: 10,
  warmup: 2,
  rounds: 3,
  log: stderrLog,
};

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

/** One target's figures over one round of load. */
export interface ApiFigures {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Answers that were not 2xx, errors and timeouts. */
  bad: number;
}

async function load(url: string, seconds: number, connections: number): Promise<ApiFigures> {
  const result = await autocannon({
    url: `${url}/v1/jobs`,
    method: "POST",
    headers: HEADERS,
    body: BODY,
    connections,
    duration: seconds,
    workers: 1,
  });
  return {
    // Completed requests over the elapsed time (autocannon's per-second average drops a last
    // partial second, which matters in short runs).
    rps: result.requests.total / Math.max(result.duration, 1e-3),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    bad: result.non2xx + result.errors + result.timeouts,
  };
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

export const API_TARGETS = ["bare", "api", "stub"] as const;
export type ApiTarget = (typeof API_TARGETS)[number];

export interface ApiTargetResult {
  target: ApiTarget;
  rounds: ApiFigures[];
  /** Medians over the rounds. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** This target's throughput over the bare route's in the same round, median over rounds. */
  rpsVsBare: number;
  /** This target's p99 over the bare route's in the same round, median over rounds. */
  p99VsBare: number;
  bad: number;
}

export interface ApiBenchResult {
  options: Omit<ApiBenchOptions, "log">;
  node: string;
  targets: ApiTargetResult[];
  /** DynamoDB Local's latency for one job write alone, sequential. */
  storeWriteMs: { p50: number; p99: number };
  /** Jobs the API stored (each answered 202 after its write). */
  storedJobs: number;
}

export async function runApiBenchmark(overrides: Partial<ApiBenchOptions> = {}): Promise<ApiBenchResult> {
  const options = { ...DEFAULT_API_BENCH_OPTIONS, ...overrides };
  const dynamo = await startDynamoLocal();
  const bare = new Hono().post("/v1/jobs", async (c) => {
    await c.req.json();
    return c.json({ jobId: "job_bare", status: "queued", created: true }, 202);
  });
  const store = new DynamoJobStore({ client: dynamo.doc, tableName: await dynamo.createJobsTable() });
  const queue = new InMemoryJobQueue();
  const appWith = (jobStore: JobStore, jobQueue: InMemoryJobQueue) =>
    createApiApp({
      store: jobStore,
      vast: new FakeVast(),
      queue: jobQueue,
      events: new InMemoryEventPublisher(),
      clock: systemClock,
      logger: silentLogger,
      secrets: [API_KEY],
      credentials: () => ({ apiKeys: { bench: API_KEY }, submissionSecrets: {}, vastWebhookSecret: null }),
    });
  const servers = {
    bare: await listen(bare.fetch),
    api: await listen(appWith(store, queue).fetch),
    stub: await listen(appWith(stubStore(), new InMemoryJobQueue()).fetch),
  };
  try {
    const figures: Record<ApiTarget, ApiFigures[]> = { bare: [], api: [], stub: [] };
    if (options.warmup > 0) {
      for (const target of API_TARGETS) await load(servers[target].url, options.warmup, options.connections);
    }
    for (let r = 0; r < options.rounds; r++) {
      for (let i = 0; i < API_TARGETS.length; i++) {
        const target = API_TARGETS[(i + r) % API_TARGETS.length] as ApiTarget;
        const f = await load(servers[target].url, options.seconds, options.connections);
        figures[target].push(f);
        options.log(
          `api round ${r + 1}/${options.rounds} ${target}: ${f.rps.toFixed(0)} req/s, p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms, ${f.bad} not 2xx`,
        );
      }
    }
    const targets = API_TARGETS.map((target): ApiTargetResult => {
      const rounds = figures[target];
      return {
        target,
        rounds,
        rps: round(median(rounds.map((f) => f.rps)), 1),
        p50Ms: median(rounds.map((f) => f.p50Ms)),
        p99Ms: median(rounds.map((f) => f.p99Ms)),
        rpsVsBare: round(median(rounds.map((f, i) => f.rps / (figures.bare[i]?.rps ?? Number.NaN))), 4),
        p99VsBare: round(median(rounds.map((f, i) => f.p99Ms / Math.max(1, figures.bare[i]?.p99Ms ?? 1))), 2),
        bad: rounds.reduce((n, f) => n + f.bad, 0),
      };
    });
    const storeWriteMs = await storeLatency(store, Math.max(10, Math.min(100, options.seconds * 10)));
    const { log: _log, ...rest } = options;
    return {
      options: rest,
      node: process.version,
      targets,
      storeWriteMs: { p50: round(storeWriteMs.p50, 1), p99: round(storeWriteMs.p99, 1) },
      storedJobs: queue.sent.length,
    };
  } finally {
    for (const server of Object.values(servers)) await server.close();
    await dynamo.stop();
  }
}

export function formatApiBenchmark(result: ApiBenchResult): string {
  const { seconds, connections, warmup, rounds } = result.options;
  return [
    `POST /v1/jobs, ${connections} connections, ${rounds} interleaved rounds of ${seconds} s after ${warmup} s of warm-up; Node ${result.node}`,
    "| target | req/s | p50 | p99 | throughput vs bare | p99 vs bare | not 2xx |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...result.targets.map(
      (t) =>
        `| ${t.target} | ${t.rps.toFixed(0)} | ${t.p50Ms} ms | ${t.p99Ms} ms | ${t.rpsVsBare.toFixed(3)} | ${t.p99VsBare.toFixed(1)}x | ${t.bad} |`,
    ),
    `DynamoDB Local, the job's write alone (sequential): p50 ${result.storeWriteMs.p50} ms, p99 ${result.storeWriteMs.p99} ms`,
    `api stored ${result.storedJobs} jobs on DynamoDB Local`,
  ].join("\n");
}

if (isMain(import.meta.url)) {
  const flags = new Flags(process.argv.slice(2), { values: ["seconds", "connections", "warmup", "rounds"] });
  const result = await runApiBenchmark({
    ...(flags.has("seconds") ? { seconds: flags.number("seconds") } : {}),
    ...(flags.has("connections") ? { connections: flags.number("connections") } : {}),
    ...(flags.has("warmup") ? { warmup: flags.number("warmup") } : {}),
    ...(flags.has("rounds") ? { rounds: Math.max(1, flags.number("rounds") ?? 1) } : {}),
  });
  console.log(formatApiBenchmark(result));
  console.log(JSON.stringify(result, null, 2));
  if (result.targets.some((t) => t.bad > 0) || result.storedJobs === 0) {
    console.error("some requests were not answered 2xx");
    process.exitCode = 1;
  }
}
