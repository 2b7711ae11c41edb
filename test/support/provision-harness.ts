/**
 * The provisioning system wired for integration tests: the real provision handler
 * (`functions/provision.ts`) fed real SQS event shapes from fauxqs, the real store on DynamoDB
 * Local, the real Vast client against the simulator (with real SSH per instance) and the real
 * SSH probe. Time is the simulator's (frozen, advanced by the test), so a 15-minute boot
 * timeout takes milliseconds.
 */
import { randomBytes } from "node:crypto";
import { PurgeQueueCommand } from "@aws-sdk/client-sqs";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { createProvisionHandler, type ProvisionHandler } from "../../functions/provision";
import type { CallbackSender } from "../../packages/core/src/callbacks";
import { type Clock, systemClock } from "../../packages/core/src/clock";
import type { HttpsArchiveOptions } from "../../packages/core/src/dataset";
import { InMemoryEventPublisher } from "../../packages/core/src/events";
import {
  type JobSettingsOverrides,
  type ProvisionDeps,
  type SshProbe,
  type VastPort,
  vastPortFromService,
} from "../../packages/core/src/jobs";
import type { JobRequestInput } from "../../packages/core/src/jobs/request";
import { submitJob } from "../../packages/core/src/jobs/submit";
import { type Logger, silentLogger } from "../../packages/core/src/observability";
import { preflightOverSsh } from "../../packages/core/src/preflight";
import { type JobQueue, type QueueMessage, SqsJobQueue } from "../../packages/core/src/queue";
import { connectSsh, probeSsh } from "../../packages/core/src/ssh";
import { DynamoJobStore, type JobRecord } from "../../packages/core/src/store";
import { NO_RATE_LIMITS, VastAIClient, VastAIService } from "../../packages/core/src/vast";
import { startVastSim, type VastSim, type VastSimOptions } from "../../packages/vast-sim/src/index";
import { datasetAccess, s3For, uploadSampleDataset } from "./datasets";
import { type LocalDynamo, startDynamoLocal } from "./dynamodb";
import { type LocalSqs, startLocalSqs } from "./fauxqs";
import { checkMoneyInvariants, type InvariantReport } from "./invariants";
import { sampleJobRequestInput } from "./job-request";
import { type PumpResult, pumpOnce, type SqsHandler } from "./sqs-pump";
import { generateTestKeyPair } from "./ssh-keys";

export interface Infra {
  dynamo: LocalDynamo;
  sqs: LocalSqs;
  stop(): Promise<void>;
}

export async function startInfra(): Promise<Infra> {
  const [dynamo, sqs] = await Promise.all([startDynamoLocal(), startLocalSqs()]);
  return {
    dynamo,
    sqs,
    async stop() {
      await Promise.all([dynamo.stop(), sqs.stop()]);
    },
  };
}

/** The variables a test reads back, among the rest. */
export interface LambdaEnvironment extends Record<string, string> {
  TABLE_NAME: string;
  PROVISION_QUEUE_URL: string;
  PUSH_QUEUE_URL: string;
}

/**
 * The environment `functions/*.ts` read, pointed at `infra`: a new jobs table, new provision and
 * push queues, S3 on fauxqs. EventBridge points at fauxqs too, where publishing fails: a handler
 * must not fail because an event could not be published. Callers add the Vast and secret settings.
 */
export async function lambdaEnvironment(infra: Infra): Promise<LambdaEnvironment> {
  const tableName = await infra.dynamo.createJobsTable();
  return {
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    TABLE_NAME: tableName,
    PROVISION_QUEUE_URL: infra.sqs.createQueue("provision").url,
    PUSH_QUEUE_URL: infra.sqs.createQueue("push").url,
    EVENT_BUS_NAME: "vast-rental",
    DYNAMODB_ENDPOINT: infra.dynamo.endpoint,
    SQS_ENDPOINT: infra.sqs.endpoint,
    S3_ENDPOINT: infra.sqs.endpoint,
    ARTIFACT_BUCKET: "artifacts",
    EVENTBRIDGE_ENDPOINT: infra.sqs.endpoint,
    POWERTOOLS_LOG_LEVEL: "DEBUG",
  };
}

/** What `useScenarios` hands a test file: its infra, and scenarios closed after each test. */
export interface ScenarioFile<S, O> {
  /** The file's infra (started in the first beforeAll; reading it earlier throws). */
  readonly infra: Infra;
  /** Starts a scenario on the file's infra; it is closed after the current test. */
  start(options?: O): Promise<S>;
}

/**
 * Registers a test file's hooks: one Infra for all its tests (stopped after them), and every
 * scenario a test starts through `start` closed after that test.
 */
export function useScenarios<S extends { close(): Promise<void> }, O>(
  startOne: (infra: Infra, options?: O) => Promise<S>,
): ScenarioFile<S, O> {
  let infra: Infra | undefined;
  const open: S[] = [];
  beforeAll(async () => {
    infra = await startInfra();
  });
  afterAll(async () => {
    await infra?.stop();
  });
  afterEach(async () => {
    for (const scenario of open.splice(0)) await scenario.close();
  });
  const file: ScenarioFile<S, O> = {
    get infra() {
      if (!infra) throw new Error("the infra starts in beforeAll");
      return infra;
    },
    async start(options) {
      const scenario = await startOne(file.infra, options);
      open.push(scenario);
      return scenario;
    },
  };
  return file;
}

/** Asserts the money invariants hold for a scenario; returns the report for further checks. */
export async function expectInvariantsHold(s: Pick<Scenario, "invariants">): Promise<InvariantReport> {
  const report = await s.invariants();
  expect(report.violations).toEqual([]);
  return report;
}

export interface ScenarioOptions {
  seed?: number;
  sim?: Partial<VastSimOptions>;
  settings?: JobSettingsOverrides;
  /** Wraps the real Vast service (to inject crashes between side effects). */
  wrapVast?: (vast: VastPort) => VastPort;
  /** Every message the orchestrator sends is sent twice (producer-side duplicates). */
  duplicateSends?: boolean;
  /** How HTTPS datasets are fetched (a test CA's agent). */
  https?: HttpsArchiveOptions;
  /** Delivers jobs' callbacks (queued on the provision queue, delivered when it is pumped). */
  callbacks?: CallbackSender;
  /** Puts something between the orchestrator and the simulator (a proxy that rewrites answers):
   * given the simulator's URL, returns the URL the Vast client should use. */
  vastProxy?: (simUrl: string) => Promise<string>;
  /** Where the orchestrator logs (default: nowhere). */
  logger?: Logger;
  /** The Hugging Face token (`hfToken` in the secret); default a random one, null = none configured
   * (the shipped templates' model is gated: their jobs then fail before renting). */
  hfToken?: string | null;
}

export interface RunOptions {
  /** Simulated seconds added after each round (default 10: an instance boots in 25 s, three rounds). */
  advanceSeconds?: number;
  maxRounds?: number;
  /** Consumers each batch is delivered to (default: one handler). */
  handlers?: SqsHandler[];
}

export interface Scenario {
  sim: VastSim;
  /** The real Vast service the orchestrator uses (for tests that act behind its back). */
  service: VastAIService;
  provisionQueueUrl: string;
  store: DynamoJobStore;
  events: InMemoryEventPublisher;
  deps: ProvisionDeps;
  handler: ProvisionHandler;
  /** Another consumer of the provision queue (same dependencies, its own invocation state). */
  newHandler(): ProvisionHandler;
  submit(overrides?: Partial<JobRequestInput>): Promise<string>;
  pump(handlers?: SqsHandler[]): Promise<PumpResult>;
  /** Pumps and advances simulated time until `until(job)` holds; throws after maxRounds. */
  run(jobId: string, until: (job: JobRecord) => boolean, options?: RunOptions): Promise<JobRecord>;
  /** Messages waiting on the push queue (not consumed). */
  pushMessages(): QueueMessage[];
  /** Throws away every message on the provision queue, delayed ones too: a lost step. */
  drainProvisionQueue(): Promise<void>;
  invariants(): Promise<InvariantReport>;
  close(): Promise<void>;
}

/** Tests' own receivers (datasets, callbacks) listen on loopback: allowed here, never in production. */
export const LOOPBACK = { allowHosts: ["127.0.0.1"] };

export async function startScenario(infra: Infra, options: ScenarioOptions = {}): Promise<Scenario> {
  const sim = await startVastSim({ seed: options.seed ?? 1, timeScale: 0, ssh: true, ...options.sim });
  const pair = generateTestKeyPair("orchestrator@test");
  const clock: Clock = { now: () => sim.admin.now(), sleep: systemClock.sleep };
  const store = new DynamoJobStore({
    client: infra.dynamo.doc,
    tableName: await infra.dynamo.createJobsTable(),
    clock,
  });
  const provisionQueue = infra.sqs.createQueue("provision");
  const pushQueue = infra.sqs.createQueue("push");
  const sqsQueue = new SqsJobQueue({
    client: infra.sqs.client,
    queueUrls: { provision: provisionQueue.url, push: pushQueue.url },
  });
  const queue: JobQueue = options.duplicateSends
    ? {
        enqueue: async (message, enqueueOptions) => {
          await sqsQueue.enqueue(message, enqueueOptions);
          await sqsQueue.enqueue(message, enqueueOptions);
        },
      }
    : sqsQueue;
  const events = new InMemoryEventPublisher();
  const hfToken =
    options.hfToken === undefined ? `hf_test${randomBytes(16).toString("hex")}` : options.hfToken;
  const service = new VastAIService({
    client: new VastAIClient({
      apiKey: sim.apiKey,
      baseUrl: options.vastProxy ? await options.vastProxy(sim.url) : sim.url,
      rateLimits: NO_RATE_LIMITS,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
      logs: { pollIntervalMs: 5, maxPolls: 20 },
      timeoutMs: 10_000,
      ...(hfToken ? { redactSecrets: [hfToken] } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    }),
    ...(options.logger ? { logger: options.logger } : {}),
    sshPublicKey: pair.public,
    attachKeyRetryDelayMs: 1,
  });
  const port = vastPortFromService(service, pair.public);
  const vast: VastPort = options.wrapVast ? options.wrapVast(port) : port;
  const probe: SshProbe = (target) =>
    probeSsh({
      ...target,
      username: "root",
      privateKey: pair.private,
      retry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
      readyTimeoutMs: 5_000,
    });
  const preflight = preflightOverSsh((target) =>
    connectSsh({
      ...target,
      username: "root",
      privateKey: pair.private,
      retry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
      readyTimeoutMs: 5_000,
    }),
  );
  const s3 = s3For(infra);
  await uploadSampleDataset(s3);
  const deps: ProvisionDeps = {
    store,
    vast,
    queue,
    events,
    probe,
    preflight,
    clock,
    logger: options.logger ?? silentLogger,
    datasets: datasetAccess({ s3, allowLocal: true, https: { policy: LOOPBACK, ...options.https } }),
    outbound: LOOPBACK,
    ...(options.callbacks ? { callbacks: options.callbacks } : {}),
    settings: {
      ...options.settings,
      callbacks: { firstRetrySeconds: 0, ...options.settings?.callbacks },
      provision: {
        readinessBackoffSeconds: [0],
        readinessNearReadySeconds: 0,
        retryPassDelaySeconds: 0,
        ambiguousLookupDelaySeconds: 0,
        leaseMs: 60_000,
        ...options.settings?.provision,
      },
    },
    secrets: [sim.apiKey, ...(hfToken ? [hfToken] : [])],
    ...(hfToken ? { hfToken } : {}),
  };
  const handler = createProvisionHandler(deps);
  const pump = (handlers: SqsHandler[] = [handler]) =>
    pumpOnce(infra.sqs.client, provisionQueue.url, { handlers });

  return {
    sim,
    service,
    provisionQueueUrl: provisionQueue.url,
    store,
    events,
    deps,
    handler,
    newHandler: () => createProvisionHandler(deps),
    async submit(overrides = {}) {
      const { jobId } = await submitJob(
        {
          store,
          queue,
          events,
          logger: silentLogger,
          clock,
          callbacks: options.callbacks,
          outbound: LOOPBACK,
        },
        sampleJobRequestInput({ idempotencyKey: `k-${randomBytes(4).toString("hex")}`, ...overrides }),
      );
      return jobId;
    },
    pump,
    async run(jobId, until, runOptions = {}) {
      const maxRounds = runOptions.maxRounds ?? 60;
      for (let round = 0; round < maxRounds; round++) {
        const job = await store.getJob(jobId);
        if (job && until(job)) return job;
        await pump(runOptions.handlers);
        sim.admin.advance(runOptions.advanceSeconds ?? 10);
      }
      const job = await store.getJob(jobId);
      // The last timeline entries say why (a probe failing, an instance state), for the failure message.
      const recent = (await store.getTimeline(jobId)).slice(-3).map((t) => `${t.kind}: ${t.reason}`);
      throw new Error(
        `condition not reached after ${maxRounds} rounds; job is ${JSON.stringify(job?.state)}; last: ${recent.join(" | ")}`,
      );
    },
    pushMessages() {
      const view = infra.sqs.server.inspectQueue(pushQueue.name);
      const all = [...(view?.messages.ready ?? []), ...(view?.messages.delayed ?? [])];
      return all.map((m) => JSON.parse(m.body) as QueueMessage);
    },
    async drainProvisionQueue() {
      await infra.sqs.client.send(new PurgeQueueCommand({ QueueUrl: provisionQueue.url }));
    },
    invariants: () => checkMoneyInvariants(sim, store),
    async close() {
      s3.destroy();
      await sim.close();
    },
  };
}
