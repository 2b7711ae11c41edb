/**
 * The API wired for route tests: the real store on DynamoDB Local (wrapped to record every write,
 * so a test can say "nothing was stored"), the scriptable fake Vast, in-memory queue and events,
 * a fixed clock, and known credentials. Plus helpers to sign requests the way senders must.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { type LocalDynamo, startDynamoLocal } from "../../../../test/support/dynamodb";
import { FakeVast } from "../../../../test/support/fake-vast";
import { type ApiApp, type ApiCredentials, type ApiDeps, createApiApp, type Problem } from "../../src/api";
import { InMemoryEventPublisher } from "../../src/events";
import { silentLogger } from "../../src/observability";
import { InMemoryJobQueue } from "../../src/queue";
import { signPayload } from "../../src/signing";
import { DynamoJobStore, type JobStore } from "../../src/store";

// Near the real time: DynamoDB Local deletes items whose TTL (set from this clock) has passed.
export const NOW_MS = Math.floor(Date.now() / 60_000) * 60_000;
export const NOW_S = Math.floor(NOW_MS / 1000);

export const CREDENTIALS: ApiCredentials = {
  apiKeys: { ops: "ops-key-0123456789abcdef", ci: "ci-key-fedcba9876543210", weak: "short" },
  submissionSecrets: { shop: "shop-secret-0123456789abcdef" },
  vastWebhookSecret: "vast-whsec-0123456789abcdef",
};
export const OPS_KEY = CREDENTIALS.apiKeys.ops as string;
export const SHOP_SECRET = CREDENTIALS.submissionSecrets.shop as string;
export const VAST_SECRET = CREDENTIALS.vastWebhookSecret as string;
export const VAST_API_KEY = "vast-api-key-that-must-never-leak-0123";

/** Store methods that only read. Any other call is a write. */
const READS = new Set([
  "getJob",
  "getJobs",
  "getAttempt",
  "getAttempts",
  "listAttempts",
  "getTimeline",
  "listJobs",
  "listActiveJobs",
  "findJobByInstanceId",
  "listUnverifiedDestroys",
  "recentHostFailures",
  "recentlyFailedMachines",
  "getLease",
]);

/** True when a write's result says it stored nothing (an idempotent repeat, a record already there). */
function storedNothing(method: string, result: unknown): boolean {
  if (method === "recordOnce") return result === false;
  if (method === "createJob") return (result as { created: boolean }).created === false;
  return false;
}

/**
 * A store that records the name of every write that stored something. A write that throws stored
 * nothing (DynamoDB's conditional writes and transactions are all-or-nothing), nor did a
 * `recordOnce` answering false or a `createJob` answering an existing job. A `forgetOnce` undoing a
 * `recordOnce` made through this store takes that write back out: together they stored nothing.
 */
export function recordingStore(store: JobStore): { store: JobStore; writes: string[] } {
  const writes: string[] = [];
  // Alongside `writes`: the `kind#id` each `recordOnce` entry recorded, null for other writes.
  const onceIds: (string | null)[] = [];
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || typeof prop !== "string" || READS.has(prop)) {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return async (...args: unknown[]) => {
        const result = await value.apply(target, args);
        const onceId = prop === "recordOnce" || prop === "forgetOnce" ? `${args[0]}#${args[1]}` : null;
        const undone = prop === "forgetOnce" ? onceIds.lastIndexOf(onceId) : -1;
        if (undone >= 0) {
          writes.splice(undone, 1);
          onceIds.splice(undone, 1);
        } else if (!storedNothing(prop, result)) {
          writes.push(prop);
          onceIds.push(prop === "recordOnce" ? onceId : null);
        }
        return result;
      };
    },
  });
  return { store: proxy, writes };
}

export interface ApiHarness {
  app: ApiApp;
  deps: ApiDeps;
  dynamo: DynamoJobStore;
  writes: string[];
  vast: FakeVast;
  queue: InMemoryJobQueue;
  events: InMemoryEventPublisher;
  clock: { now(): number; sleep(ms: number): Promise<void>; set(ms: number): void };
}

export async function apiHarness(dynamo: LocalDynamo, overrides: Partial<ApiDeps> = {}): Promise<ApiHarness> {
  let now = NOW_MS;
  const clock = {
    now: () => now,
    sleep: async () => {},
    set: (ms: number) => {
      now = ms;
    },
  };
  const table = new DynamoJobStore({ client: dynamo.doc, tableName: await dynamo.createJobsTable(), clock });
  const { store, writes } = recordingStore(table);
  const vast = new FakeVast();
  const queue = new InMemoryJobQueue();
  const events = new InMemoryEventPublisher();
  let ids = 0;
  const deps: ApiDeps = {
    store,
    vast,
    queue,
    events,
    clock,
    logger: silentLogger,
    secrets: [VAST_API_KEY, ...Object.values(CREDENTIALS.apiKeys), SHOP_SECRET, VAST_SECRET],
    credentials: () => CREDENTIALS,
    newJobId: () => `job_t${randomBytes(3).toString("hex")}${++ids}`,
    ...overrides,
  };
  return { app: createApiApp(deps), deps, dynamo: table, writes, vast, queue, events, clock };
}

export const bearer = (key = OPS_KEY) => ({ authorization: `Bearer ${key}` });
export const jsonHeaders = (key = OPS_KEY) => ({ ...bearer(key), "content-type": "application/json" });

/** Headers of a signed submission of `body` at `timestampS`. */
export function signedHeaders(
  body: string,
  secret = SHOP_SECRET,
  timestampS = NOW_S,
): Record<string, string> {
  return {
    "content-type": "application/json",
    "x-vast-rental-timestamp": String(timestampS),
    "x-vast-rental-signature-256": signPayload(secret, timestampS, body),
  };
}

/** Headers of a Vast notification delivery of `body`. */
export function vastHeaders(body: string, secret = VAST_SECRET, timestampS = NOW_S): Record<string, string> {
  return {
    "content-type": "application/json",
    "x-vast-timestamp": String(timestampS),
    "x-vast-signature-256": signPayload(secret, timestampS, body),
    "x-vast-delivery-attempt": "1",
  };
}

/** The JSON body of a response, as the route's schema says it is. */
export async function bodyOf<T>(response: Response): Promise<T> {
  return (await response.json()) as T;
}

/** The body of a problem+json response, after checking its media type and status. */
export async function problemOf(response: Response): Promise<Problem> {
  if (!response.headers.get("content-type")?.startsWith("application/problem+json")) {
    throw new Error(
      `not a problem: ${response.status} ${response.headers.get("content-type")} ${await response.text()}`,
    );
  }
  const body = await bodyOf<Problem>(response);
  if (body.status !== response.status)
    throw new Error(`status ${body.status} in a ${response.status} response`);
  return body;
}

/** A test file's API harnesses: the one made before each test, and more on request. */
export interface ApiHarnesses {
  /** The harness made for the running test. */
  current(): ApiHarness;
  /** Another harness on the same DynamoDB Local, its own table, with other dependencies. */
  make(overrides?: Partial<ApiDeps>): Promise<ApiHarness>;
}

/**
 * Registers a test file's hooks: one DynamoDB Local for the file, a fresh harness (its own table)
 * before every test.
 */
export function useApiHarness(overrides: Partial<ApiDeps> = {}): ApiHarnesses {
  let dynamo: LocalDynamo | undefined;
  let current: ApiHarness | undefined;
  const make = (more: Partial<ApiDeps> = {}) => {
    if (!dynamo) throw new Error("DynamoDB Local starts in beforeAll");
    return apiHarness(dynamo, { ...overrides, ...more });
  };
  beforeAll(async () => {
    dynamo = await startDynamoLocal();
  });
  afterAll(async () => {
    await dynamo?.stop();
  });
  beforeEach(async () => {
    current = await make();
  });
  return {
    current: () => {
      if (!current) throw new Error("the harness is made in beforeEach");
      return current;
    },
    make,
  };
}
