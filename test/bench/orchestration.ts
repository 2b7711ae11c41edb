/**
 * Orchestration overhead and money, end to end through the real handlers (docs/architecture.md,
 * "Performance targets"). Run:
 *   npx tsx test/bench/orchestration.ts [--jobs 5] [--concurrency 2] [--seed 7] [--schedules default,2]
 *     [--training 1800] [--poll-seconds 60] [--provisioning 5] [--loading 10,30]
 *
 * Each job gets its own "deployment" — a simulator (seeded; its loading phase drawn from the seed,
 * so boot times differ), a jobs table on DynamoDB Local, provision and push queues on fauxqs with
 * real `DelaySeconds`, its own Vast client (production rate limits and retries, as one Lambda
 * container would have); `--concurrency` jobs run at once (2 by default). Consumers long-poll the
 * queues as the event source mapping does and feed `functions/provision.ts` and
 * `functions/push-dataset.ts`. The job
 * arrives as `POST /v1/jobs` on the API app (`createApiApp`, in process). Every schedule named in
 * `--schedules` (readiness backoff in seconds, `default` = the production setting) and every poller
 * interval in `--poll-seconds` gets `--jobs` jobs with the same seeds, so they compare like for like.
 *
 * Time. Until training starts everything runs in real time (the simulator at time scale 1, the
 * orchestrator's clock is the simulator's): boot, readiness checks, the push, every handler's work.
 * Training is then simulated on that clock, `--training` simulated seconds from the `training`
 * transition, and so is the poller: its first run after the finish comes `offset` seconds after it,
 * with the offsets of a group's jobs spread evenly over the interval ((i + ½) / jobs ×
 * `--poll-seconds`, as a fixed-rate schedule's phase relative to an unrelated finish is uniform).
 * The run's end is checked as deployed: the poller's last run before the finish (`--poll-seconds`
 * − offset before it) reads the run's progress, and when it expects the end before its next run it
 * sends the completion follow-up, whose checks (10 s apart) come from the provision queue. To
 * make that reading true, the training stand-in prints a progress line every 5 simulated seconds
 * (ai-toolkit's tqdm line moves every step, about 1 s on a 30-minute run) and is held
 * (`holdAfterTicks`) at the line the poller's last run before the finish would read; it runs in a
 * second of real time up to there. Then events happen in simulated-time order, the clock jumping
 * to each and the work running there in real time: that poller run (`runReaper`), the finish
 * (`releaseTraining`: the stand-in prints its last lines and exits), each follow-up when its delay
 * has elapsed (sent to the provision queue undelayed then, and handled by `functions/provision.ts`
 * through the consumer), and poller runs every interval until the job is done. Poller runs before
 * the last one before the finish are not simulated: the run's end is then further than an interval
 * away, so they only read progress. The list call, SSH checks, collecting the LoRA into S3, the
 * destroy and the books all count.
 *
 * Reported per job and as p50/p95 per group:
 * 1. Overhead = (POST /v1/jobs → `training`) − boot (simulator history, create → running) − dataset
 *    push (the push step's own `durationMs`), split into the readiness backoff's wait and handler
 *    work plus queue hops; Vast calls (the simulator's request counts) and DynamoDB requests (the
 *    job's DynamoDB client's middleware stack) from the request to the end of the push step, and
 *    those of the poller run(s) that collected and destroyed.
 * 2. Money: the simulator ledger for the instance (GPU while running, disk from create, bytes in)
 *    against the ideal (training seconds × the instance's hourly price, GPU and disk); the job's
 *    recorded `costUsd` against the ledger; seconds from the run's finish to Vast accepting the
 *    destroy.
 *
 * Exits 1 when a job does not reach `training` and then `succeeded`, or a money invariant breaks,
 * and 2 when the code under test let an error go uncaught (a Lambda invocation would have crashed).
 * `runOrchestrationBenchmark` is the same thing as a function.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteMessageCommand, type Message, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { createProvisionHandler } from "../../functions/provision";
import { createPushHandler } from "../../functions/push-dataset";
import { createApiApp } from "../../packages/core/src/api";
import { type Clock, systemClock } from "../../packages/core/src/clock";
import { InMemoryEventPublisher } from "../../packages/core/src/events";
import {
  type CompletionDeps,
  DEFAULT_JOB_SETTINGS,
  isTerminal,
  type ProvisionDeps,
  type ReaperDeps,
  runReaper,
  vastPortFromService,
} from "../../packages/core/src/jobs";
import { silentLogger } from "../../packages/core/src/observability";
import { preflightOverSsh } from "../../packages/core/src/preflight";
import { type JobQueue, type QueueMessage, SqsJobQueue } from "../../packages/core/src/queue";
import { seededRandom } from "../../packages/core/src/retry";
import { connectSsh, probeSsh } from "../../packages/core/src/ssh";
import { DynamoJobStore, type JobRecord, type TimelineEntry } from "../../packages/core/src/store";
import { VastAIService } from "../../packages/core/src/vast";
import { writeDataset } from "../../packages/core/test/dataset/fixtures";
import { startVastSim, type VastSim } from "../../packages/vast-sim/src/index";
import { ARTIFACT_BUCKET, DATASET_BUCKET, realDatasets, s3For, uploadDataset } from "../support/datasets";
import { localCredentials } from "../support/dynamodb";
import { checkMoneyInvariants } from "../support/invariants";
import { sampleJobRequestInput } from "../support/job-request";
import { type Infra, startInfra } from "../support/provision-harness";
import { toSqsRecord } from "../support/sqs-pump";
import { generateTestKeyPair } from "../support/ssh-keys";
import {
  type AwsCall,
  type BenchLog,
  countBy,
  Flags,
  isMain,
  median,
  percentile,
  recordAwsCalls,
  round,
  stderrLog,
} from "./common";

// ---------- options ----------

export interface OrchestrationBenchOptions {
  /** Jobs per group (a group = one readiness schedule × one poller interval). */
  jobs: number;
  /** Jobs running at once, over all groups (each has its own simulator: on 2 cores, more jobs at
   * once measure the bench's own contention more than the orchestration). */
  concurrency: number;
  seed: number;
  /** Readiness backoff schedules: `default` (production) or delays in seconds separated by `/`. */
  schedules: string[];
  /** Simulated seconds of training. */
  trainingSeconds: number;
  /** Simulated seconds between poller runs (production: 60); one group per value. */
  pollSeconds: number[];
  /** Simulated boot: provisioning seconds, then loading drawn from the seed in this range. */
  provisioningSeconds: number;
  loadingSeconds: [number, number];
  /** Image+caption pairs of the dataset pushed. */
  datasetPairs: number;
  /** Wall-clock limit per job from its request to `training`. */
  jobTimeoutMs: number;
  log: BenchLog;
}

export const DEFAULT_ORCHESTRATION_OPTIONS: OrchestrationBenchOptions = {
  jobs: 5,
  concurrency: 2,
  seed: 7,
  schedules: ["default"],
  trainingSeconds: 1800,
  pollSeconds: [60],
  provisioningSeconds: 5,
  loadingSeconds: [10, 30],
  datasetPairs: 12,
  jobTimeoutMs: 150_000,
  log: stderrLog,
};

interface Schedule {
  name: string;
  custom: boolean;
  backoff: readonly number[];
}

function scheduleOf(spec: string): Schedule {
  if (spec === "default") {
    return {
      name: `default [${DEFAULT_JOB_SETTINGS.provision.readinessBackoffSeconds.join(",")}], then ${DEFAULT_JOB_SETTINGS.provision.readinessNearReadySeconds}`,
      custom: false,
      backoff: DEFAULT_JOB_SETTINGS.provision.readinessBackoffSeconds,
    };
  }
  return { name: `[${spec.replaceAll("/", ",")}]`, custom: true, backoff: spec.split("/").map(Number) };
}

// ---------- SQS consumer (the event source mapping, long-polling) ----------

interface Invocation {
  queue: "provision" | "push";
  type: string;
  start: number;
  end: number;
  failed: boolean;
}

type Handler = (event: SQSEvent) => Promise<SQSBatchResponse>;

function startConsumer(
  infra: Infra,
  queueUrl: string,
  name: Invocation["queue"],
  handler: Handler,
  log: Invocation[],
) {
  let running = true;
  const arn = `arn:aws:sqs:us-east-1:000000000000:${queueUrl.split("/").pop()}`;
  const deliver = async (message: Message) => {
    const record = toSqsRecord(message, arn);
    const body = JSON.parse(record.body) as { type: string };
    const entry: Invocation = { queue: name, type: body.type, start: Date.now(), end: 0, failed: false };
    log.push(entry);
    const response = await handler({ Records: [record] });
    entry.end = Date.now();
    entry.failed = response.batchItemFailures.length > 0;
    // A failure stays invisible for the queue's visibility timeout, as with SQS and Lambda.
    if (!entry.failed) {
      await infra.sqs.client.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: record.receiptHandle }),
      );
    }
  };
  const loop = (async () => {
    while (running) {
      const out = await infra.sqs.client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          VisibilityTimeout: 30,
          MessageSystemAttributeNames: ["All"],
        }),
      );
      // Lambda runs a batch's records through one invocation; here each record is its own
      // invocation so the timing log is per message (batches of one are the norm per job).
      await Promise.all((out.Messages ?? []).map(deliver));
    }
  })();
  return async () => {
    running = false;
    // A handler that never returns must not hang the bench (it is reported as in flight).
    await Promise.race([loop, new Promise((r) => setTimeout(r, 3_000))]);
  };
}

// ---------- one job, one deployment ----------

type CallKind = "dynamo" | "sqs" | "vast";
interface Call extends AwsCall {
  kind: CallKind;
}

/** Vast and DynamoDB calls over one phase of a job. */
export interface PhaseCalls {
  vast: number;
  vastByEndpoint: Record<string, number>;
  dynamo: number;
  dynamoByCommand: Record<string, number>;
}

export interface OrchestrationJobResult {
  /** `<schedule> / poll <s> s`. */
  group: string;
  schedule: string;
  pollSeconds: number;
  index: number;
  jobId: string;
  ok: boolean;
  error: string | null;
  /** POST /v1/jobs → `training`, real ms. */
  totalMs: number;
  bootMs: number;
  pushMs: number;
  overheadMs: number;
  /** Part of the overhead spent waiting for the readiness check that noticed `running`. */
  readinessWaitMs: number;
  /** The rest: handler work and queue hops. */
  handlerWorkMs: number;
  /** Time inside the job's DynamoDB, SQS-send and Vast calls on the overhead's path. */
  dependencyMs: Record<CallKind, number>;
  readinessChecks: number;
  failedDeliveries: number;
  calls: { toTraining: PhaseCalls; completion: PhaseCalls };
  money: {
    /** GPU + disk, $/h, as the simulator bills this instance. */
    hourlyUsd: number;
    trainingSeconds: number;
    runningSeconds: number;
    billedUsd: number;
    idealUsd: number;
    billedOverIdeal: number;
    costUsd: number;
    costOverBilled: number;
    /** Simulated seconds from the run's finish to Vast accepting the destroy. */
    finishToDestroySeconds: number;
    /** The poller's phase: seconds from the finish to its first run after it. */
    pollOffsetSeconds: number;
    pollerRuns: number;
    /** Completion follow-up checks handled (from the provision queue). */
    followUpChecks: number;
    /** Who ended the job: a follow-up check, or a poller run. */
    endedBy: "follow-up" | "poller";
  } | null;
  violations: string[];
}

export interface OrchestrationGroupSummary {
  group: string;
  schedule: string;
  pollSeconds: number;
  jobs: number;
  ok: number;
  overheadMs: { p50: number; p95: number; max: number };
  readinessWaitMs: { p50: number };
  handlerWorkMs: { p50: number };
  /** Medians per job. */
  calls: { toTraining: { vast: number; dynamo: number }; completion: { vast: number; dynamo: number } };
  billedOverIdeal: { p50: number; p95: number; max: number };
  costOverBilled: { p50: number };
  finishToDestroySeconds: { p50: number; p95: number; max: number };
}

export interface OrchestrationBenchResult {
  options: Omit<OrchestrationBenchOptions, "log">;
  jobs: OrchestrationJobResult[];
  groups: OrchestrationGroupSummary[];
  /** Errors the code under test let go uncaught (a Lambda invocation would have crashed). */
  uncaught: string[];
  wallSeconds: number;
}

const API_KEY = `bench-${randomBytes(16).toString("hex")}`;
/** Real seconds the training stand-in runs before its simulated duration is jumped over. */
const STAND_IN_SECONDS = 1;
/** Simulated seconds between the stand-in's progress lines. */
const PROGRESS_LINE_SECONDS = 5;
/** Poller runs tried before the job counts as not collected. */
const MAX_POLLER_RUNS = 6;

/** Progress lines in a run's log (`| step/total [`). */
async function progressLines(log: string): Promise<number> {
  const text = await readFile(log, "utf8").catch(() => "");
  return text.match(/\| \d+\/\d+ \[/g)?.length ?? 0;
}

async function until<T>(
  what: string,
  deadline: number,
  probe: () => Promise<T | undefined>,
  everyMs: number,
): Promise<T> {
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function phaseCalls(vast: { total: number; byEndpoint: Record<string, number> }, dynamo: Call[]): PhaseCalls {
  const d = dynamo.filter((c) => c.kind === "dynamo");
  return {
    vast: vast.total,
    vastByEndpoint: { ...vast.byEndpoint },
    dynamo: d.length,
    dynamoByCommand: countBy(d, (c) => c.command.replace(/Command$/, "")),
  };
}

async function runJob(
  infra: Infra,
  options: OrchestrationBenchOptions,
  schedule: Schedule,
  pollSeconds: number,
  index: number,
): Promise<OrchestrationJobResult> {
  const random = seededRandom(options.seed * 1000 + index);
  const [lo, hi] = options.loadingSeconds;
  const loadingSeconds = lo + Math.round(random() * (hi - lo));
  const sim: VastSim = await startVastSim({
    seed: options.seed + index,
    timeScale: 1,
    ssh: true,
    delays: { provisioningSeconds: options.provisioningSeconds, loadingSeconds },
  });
  // Sim ms ↔ real ms before the training jump (no `advance` until then: linear).
  const real0 = Date.now();
  const sim0 = sim.admin.now();
  const realOf = (simMs: number) => real0 + (simMs - sim0);

  const pair = generateTestKeyPair("orchestrator@bench");
  const clock: Clock = { now: () => sim.admin.now(), sleep: systemClock.sleep };
  // Clients of this job's own, so their calls are counted and timed.
  const calls: Call[] = [];
  const tableName = await infra.dynamo.createJobsTable();
  const dynamoClient = new DynamoDBClient({
    endpoint: infra.dynamo.endpoint,
    region: "us-east-1",
    credentials: localCredentials,
  });
  recordAwsCalls(dynamoClient, (call) => calls.push({ ...call, kind: "dynamo" }));
  const sqsClient = new SQSClient({
    endpoint: infra.sqs.endpoint,
    region: "us-east-1",
    credentials: localCredentials,
  });
  recordAwsCalls(sqsClient, (call) => calls.push({ ...call, kind: "sqs" }));
  const store = new DynamoJobStore({
    client: DynamoDBDocumentClient.from(dynamoClient, { marshallOptions: { removeUndefinedValues: true } }),
    tableName,
    clock,
  });
  // The bench's own reads go through the shared client, so they are not counted.
  const observer = new DynamoJobStore({ client: infra.dynamo.doc, tableName, clock });
  const provisionQueue = infra.sqs.createQueue("provision");
  const pushQueue = infra.sqs.createQueue("push");
  const sqsQueue = new SqsJobQueue({
    client: sqsClient,
    queueUrls: { provision: provisionQueue.url, push: pushQueue.url },
  });
  // Completion follow-ups wait on the simulated clock: held here until their delay has elapsed on
  // it, then sent undelayed (SQS's own delay would run in real time).
  const followUps: { message: QueueMessage; dueAt: number }[] = [];
  const queue: JobQueue = {
    enqueue: async (message, options) => {
      if (message.type !== "completion") return sqsQueue.enqueue(message, options);
      followUps.push({ message, dueAt: clock.now() + (options?.delaySeconds ?? 0) * 1000 });
    },
    changeVisibility: (name, receiptHandle, seconds) =>
      sqsQueue.changeVisibility(name, receiptHandle, seconds),
  };
  const events = new InMemoryEventPublisher();
  // As createJobDependencies builds it: production rate limits, retries and probe.
  const service = new VastAIService({
    apiKey: sim.apiKey,
    baseUrl: sim.url,
    sshPublicKey: pair.public,
    logger: silentLogger,
    fetch: async (input, init) => {
      const start = Date.now();
      try {
        return await fetch(input, init);
      } finally {
        calls.push({ kind: "vast", command: "vast", start, end: Date.now() });
      }
    },
  });
  const vast = vastPortFromService(service, pair.public);
  const s3 = s3For(infra);
  const deps: ProvisionDeps = {
    store,
    vast,
    queue,
    events,
    clock,
    logger: silentLogger,
    probe: (target) =>
      probeSsh({
        ...target,
        username: "root",
        privateKey: pair.private,
        retry: { attempts: 2, baseDelayMs: 500, maxDelayMs: 1_000 },
        readyTimeoutMs: 10_000,
      }),
    // FLUX.1-dev is gated: a (simulated) Hugging Face token, as a deployment has.
    hfToken: "hf_bench_token_0123456789",
    preflight: preflightOverSsh((target, options) =>
      connectSsh({
        ...target,
        username: "root",
        privateKey: pair.private,
        retry: { attempts: 2, baseDelayMs: 500, maxDelayMs: 1_000 },
        readyTimeoutMs: 10_000,
        signal: options?.signal,
      }),
    ),
    datasets: realDatasets(s3),
    // A custom schedule is steady: it also sets the delay once the instance is loading or running.
    settings: {
      provision: schedule.custom
        ? {
            readinessBackoffSeconds: schedule.backoff,
            readinessNearReadySeconds: schedule.backoff.at(-1) ?? 3,
          }
        : { readinessBackoffSeconds: schedule.backoff },
    },
    secrets: [sim.apiKey, "hf_bench_token_0123456789"],
  };
  const pushDeps: CompletionDeps = {
    store,
    events,
    vast,
    queue,
    clock,
    logger: silentLogger,
    secrets: [sim.apiKey, "hf_bench_token_0123456789"],
    ssh: (target) =>
      connectSsh({
        ...target,
        username: "root",
        privateKey: pair.private,
        retry: { attempts: 4, baseDelayMs: 1_000, maxDelayMs: 8_000 },
        readyTimeoutMs: 10_000,
      }),
    datasets: realDatasets(s3),
    s3,
    artifactBucket: ARTIFACT_BUCKET,
    settings: { push: { heartbeatIntervalSeconds: 5 } },
  };
  // One set of dependencies for the poller and the provision function, as createJobDependencies
  // builds them: the provision function runs completion follow-ups, which need SSH and S3.
  const reaperDeps: ReaperDeps = {
    ...deps,
    ...pushDeps,
    settings: { ...deps.settings, ...pushDeps.settings },
  };
  const api = createApiApp({
    store,
    vast,
    queue,
    events,
    clock,
    logger: silentLogger,
    secrets: [API_KEY, sim.apiKey],
    credentials: () => ({ apiKeys: { bench: API_KEY }, submissionSecrets: {}, vastWebhookSecret: null }),
  });
  const log: Invocation[] = [];
  const stopProvision = startConsumer(
    infra,
    provisionQueue.url,
    "provision",
    createProvisionHandler(reaperDeps),
    log,
  );
  const stopPush = startConsumer(infra, pushQueue.url, "push", createPushHandler(pushDeps), log);
  // The poller's phase, and the progress line its last run before the finish reads (0: it has no
  // run during training).
  const offsetSeconds = ((index + 0.5) / options.jobs) * pollSeconds;
  const progressTicks = Math.max(10, Math.round(options.trainingSeconds / PROGRESS_LINE_SECONDS));
  const lastRunBeforeFinish = options.trainingSeconds - (pollSeconds - offsetSeconds);
  const holdAfterTicks =
    lastRunBeforeFinish > 0 ? Math.floor((progressTicks * lastRunBeforeFinish) / options.trainingSeconds) : 0;
  // The training stand-in reads its behaviour when launched: set it as soon as an instance exists
  // (long before the push), from outside the handlers' path.
  const configured = new Set<number>();
  const watcher = setInterval(() => {
    for (const inst of sim.admin.instances()) {
      if (configured.has(inst.id) || inst.destroyedAtMs !== null) continue;
      configured.add(inst.id);
      sim.admin
        .setTrainingBehaviour(inst.id, {
          durationSeconds: Math.min(options.trainingSeconds, STAND_IN_SECONDS),
          progressTicks,
          ...(holdAfterTicks > 0 ? { holdAfterTicks } : {}),
        })
        .catch(() => configured.delete(inst.id));
    }
  }, 50);

  const group = `${schedule.name} / poll ${pollSeconds} s`;
  const result: OrchestrationJobResult = {
    group,
    schedule: schedule.name,
    pollSeconds,
    index,
    jobId: "",
    ok: false,
    error: null,
    totalMs: 0,
    bootMs: 0,
    pushMs: 0,
    overheadMs: 0,
    readinessWaitMs: 0,
    handlerWorkMs: 0,
    dependencyMs: { dynamo: 0, sqs: 0, vast: 0 },
    readinessChecks: 0,
    failedDeliveries: 0,
    calls: {
      toTraining: { vast: 0, vastByEndpoint: {}, dynamo: 0, dynamoByCommand: {} },
      completion: { vast: 0, vastByEndpoint: {}, dynamo: 0, dynamoByCommand: {} },
    },
    money: null,
    violations: [],
  };
  const deadline = Date.now() + options.jobTimeoutMs;
  try {
    sim.admin.resetRequestCounts();
    const submitAt = Date.now();
    const response = await api.request("/v1/jobs", {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(
        sampleJobRequestInput({
          idempotencyKey: `bench-${randomBytes(4).toString("hex")}`,
          dataset: { kind: "s3", bucket: DATASET_BUCKET, prefix: "bench/" },
        }),
      ),
    });
    if (response.status !== 202) throw new Error(`POST /v1/jobs answered ${response.status}`);
    const { jobId } = (await response.json()) as { jobId: string };
    result.jobId = jobId;
    const training = await until(
      "training",
      deadline,
      async () => {
        const job = await observer.getJob(jobId);
        if (job && isTerminal(job.state)) throw new Error(`job ended ${job.state}: ${job.reason}`);
        // Nothing but the bench's poller runs moves it on from `training`.
        return job?.state === "training" ? job : undefined;
      },
      100,
    );

    // Where the time to `training` went.
    const timeline = await observer.getTimeline(jobId);
    const transitionAt = (to: string) =>
      timeline.find((t: TimelineEntry) => t.kind === "transition" && t.to === to)?.at;
    const attempt = await observer.getAttempt(jobId, training.attempt);
    const inst = attempt?.instanceId ? sim.admin.instance(attempt.instanceId) : null;
    if (!attempt || !inst) throw new Error("no instance recorded for the job");
    const running = inst.history.find((h) => h.actual_status === "running");
    const readyAtSim = transitionAt("pushing");
    const trainingAtSim = transitionAt("training");
    const pushed = timeline.find((t) => t.details.kind === "dataset_pushed");
    if (!running || readyAtSim === undefined || trainingAtSim === undefined || !pushed)
      throw new Error("the timeline or instance history lacks a step");
    const createdAt = realOf(inst.createdAtMs);
    const runningAt = realOf(running.atMs);
    const readyAt = realOf(readyAtSim);
    const trainingAt = realOf(trainingAtSim);
    result.bootMs = running.atMs - inst.createdAtMs;
    result.pushMs = Number(pushed.details.durationMs);
    result.totalMs = trainingAt - submitAt;
    result.overheadMs = result.totalMs - result.bootMs - result.pushMs;
    const checks = log.filter((l) => l.type === "readiness");
    result.readinessChecks = checks.length;
    const noticeStart = Math.max(...checks.filter((c) => c.start <= readyAt).map((c) => c.start));
    result.readinessWaitMs = Math.max(0, noticeStart - runningAt);
    result.handlerWorkMs = result.overheadMs - result.readinessWaitMs;
    // Calls on the overhead's own path — request → create, and from the check that noticed
    // `running` to `training` (calls during the boot are hidden by it) — are sequential within a
    // handler, so their sum is time spent.
    for (const c of calls) {
      const onPath =
        (c.start >= submitAt && c.start < createdAt) || (c.start >= noticeStart && c.start <= trainingAt);
      const counted = c.kind !== "sqs" || /Send/.test(c.command);
      if (onPath && counted) result.dependencyMs[c.kind] += c.end - c.start;
    }

    // Training, simulated: the stand-in reaches the line the poller's last run before the finish
    // reads (or, without such a run, its end).
    const runDir = join(inst.rootDir, "jobs", jobId);
    const exitCode = join(runDir, "exit_code");
    await until(
      holdAfterTicks > 0 ? `the run's progress line ${holdAfterTicks}` : "the training run's exit code",
      deadline + 60_000,
      async () =>
        holdAfterTicks > 0
          ? (await progressLines(join(runDir, "train.log"))) >= holdAfterTicks || undefined
          : stat(exitCode).catch(() => undefined),
      50,
    );
    // The push step has returned by now (it launched the run): this phase's calls are complete.
    await until(
      "the push handler",
      deadline + 60_000,
      async () => (log.every((l) => l.end > 0) ? true : undefined),
      50,
    );
    result.calls.toTraining = phaseCalls(sim.admin.requestCounts(), calls);
    const completionFrom = calls.length;
    sim.admin.resetRequestCounts();
    const finishSim = Math.max(trainingAtSim + options.trainingSeconds * 1000, sim.admin.now());

    // Then, in simulated-time order: poller runs, the finish, follow-ups when due.
    let nextRun = finishSim + (offsetSeconds - (holdAfterTicks > 0 ? pollSeconds : 0)) * 1000;
    let finished = holdAfterTicks === 0;
    let pollerRuns = 0;
    let followUpChecks = 0;
    let ended: JobRecord | null = null;
    let endedBy: "follow-up" | "poller" = "poller";
    const moveTo = (at: number) => sim.admin.advance(Math.max(0, at - sim.admin.now()) / 1000);
    if (finished) moveTo(finishSim);
    while (!ended && pollerRuns < MAX_POLLER_RUNS) {
      followUps.sort((a, b) => a.dueAt - b.dueAt);
      const due = followUps[0]?.dueAt ?? Number.POSITIVE_INFINITY;
      if (!finished && finishSim <= Math.min(nextRun, due)) {
        moveTo(finishSim);
        await sim.admin.releaseTraining(inst.id);
        await until(
          "the training run's exit code",
          Date.now() + 60_000,
          () => stat(exitCode).catch(() => undefined),
          20,
        );
        finished = true;
        continue;
      }
      if (due <= nextRun) {
        const { message } = followUps.shift()!;
        moveTo(due);
        const handled = () => log.filter((l) => l.type === "completion" && l.end > 0).length;
        const before = handled();
        await sqsQueue.enqueue(message);
        await until(
          "the follow-up's handler",
          Date.now() + 60_000,
          async () => (handled() > before ? true : undefined),
          10,
        );
        followUpChecks++;
        endedBy = "follow-up";
      } else {
        moveTo(nextRun);
        await runReaper(reaperDeps, { trigger: "bench" });
        pollerRuns++;
        nextRun += pollSeconds * 1000;
        endedBy = "poller";
      }
      const job = await observer.getJob(jobId);
      if (job && isTerminal(job.state)) ended = job;
    }
    if (!ended) throw new Error(`not collected after ${MAX_POLLER_RUNS} poller runs`);
    if (ended.state !== "succeeded") throw new Error(`job ended ${ended.state}: ${ended.reason}`);
    result.calls.completion = phaseCalls(sim.admin.requestCounts(), calls.slice(completionFrom));

    const destroyedAt = sim.admin.instance(inst.id)?.destroyedAtMs;
    if (!destroyedAt) throw new Error("the job succeeded but its instance was not destroyed");
    const ledger = sim.admin.instance(inst.id)!.ledger;
    const hourlyUsd = ledger.gpuDph + ledger.storageDph;
    const billedUsd = ledger.totalMicros / 1e6;
    const idealUsd = (options.trainingSeconds * hourlyUsd) / 3600;
    const costUsd = ended.costUsd ?? 0;
    result.money = {
      hourlyUsd: round(hourlyUsd, 4),
      trainingSeconds: options.trainingSeconds,
      runningSeconds: round(ledger.runningSeconds, 1),
      billedUsd: round(billedUsd, 6),
      idealUsd: round(idealUsd, 6),
      billedOverIdeal: round(billedUsd / idealUsd, 4),
      costUsd: round(costUsd, 6),
      costOverBilled: round(costUsd / billedUsd, 4),
      finishToDestroySeconds: round((destroyedAt - finishSim) / 1000, 1),
      pollOffsetSeconds: round(offsetSeconds, 1),
      pollerRuns,
      followUpChecks,
      endedBy,
    };
    result.failedDeliveries = log.filter((l) => l.failed).length;
    result.violations = (await checkMoneyInvariants(sim, observer)).violations;
    result.ok = result.violations.length === 0;
    if (!result.ok) result.error = result.violations.join("; ");
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    // Where it stopped: the job's state, its last timeline entries, the deliveries that failed.
    if (result.jobId) {
      const job = await observer.getJob(result.jobId).catch(() => null);
      const last = (await observer.getTimeline(result.jobId).catch(() => []))
        .slice(-3)
        .map((t) => `${t.kind}${t.to ? `→${t.to}` : ""}: ${t.reason}`);
      const failures = log.filter((l) => l.failed).map((l) => `${l.queue}/${l.type}`);
      const inFlight = log.filter((l) => l.end === 0).map((l) => `${l.queue}/${l.type}`);
      result.error +=
        `; job ${job?.state ?? "?"}; last: ${last.join(" | ")}; ${log.length} deliveries, ` +
        `failed: [${failures.join(", ")}], never returned: [${inFlight.join(", ")}]`;
    }
  } finally {
    clearInterval(watcher);
    await Promise.all([stopProvision(), stopPush()]);
    s3.destroy();
    dynamoClient.destroy();
    sqsClient.destroy();
    await sim.close();
  }
  options.log(
    `orchestration ${group} job ${index}: ${result.ok ? `overhead ${(result.overheadMs / 1000).toFixed(2)} s, billed/ideal ${result.money?.billedOverIdeal}, finish→destroy ${result.money?.finishToDestroySeconds} s` : `FAILED ${result.error}`}`,
  );
  return result;
}

// ---------- summary and report ----------

function summarize(group: OrchestrationJobResult[]): OrchestrationGroupSummary {
  const first = group[0]!;
  const ok = group.filter((r) => r.ok);
  const stats = (xs: number[]) => ({
    p50: round(percentile(xs, 50), 4),
    p95: round(percentile(xs, 95), 4),
    max: round(Math.max(...xs), 4),
  });
  const money = ok.map((r) => r.money!);
  return {
    group: first.group,
    schedule: first.schedule,
    pollSeconds: first.pollSeconds,
    jobs: group.length,
    ok: ok.length,
    overheadMs: stats(ok.map((r) => r.overheadMs)),
    readinessWaitMs: {
      p50: percentile(
        ok.map((r) => r.readinessWaitMs),
        50,
      ),
    },
    handlerWorkMs: {
      p50: percentile(
        ok.map((r) => r.handlerWorkMs),
        50,
      ),
    },
    calls: {
      toTraining: {
        vast: median(ok.map((r) => r.calls.toTraining.vast)),
        dynamo: median(ok.map((r) => r.calls.toTraining.dynamo)),
      },
      completion: {
        vast: median(ok.map((r) => r.calls.completion.vast)),
        dynamo: median(ok.map((r) => r.calls.completion.dynamo)),
      },
    },
    billedOverIdeal: stats(money.map((m) => m.billedOverIdeal)),
    costOverBilled: { p50: round(median(money.map((m) => m.costOverBilled)), 4) },
    finishToDestroySeconds: stats(money.map((m) => m.finishToDestroySeconds)),
  };
}

export function formatOrchestration(result: OrchestrationBenchResult): string {
  const s = (ms: number) => (ms / 1000).toFixed(2);
  const lines: string[] = [];
  for (const g of result.groups) {
    const jobs = result.jobs.filter((j) => j.group === g.group && j.ok);
    lines.push(
      `\n== readiness ${g.schedule} s; poller every ${g.pollSeconds} s (simulated); ${g.ok}/${g.jobs} jobs ok ==`,
      "| job | total | boot | push | OVERHEAD | readiness wait | handler work | dynamo / sqs / vast time | checks | calls to training (Vast / DynamoDB) | $/h | billed/ideal | cost/billed | finish→destroy | poll offset | ended by (follow-up checks) | calls to collect (Vast / DynamoDB) |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    );
    for (const j of jobs) {
      const m = j.money!;
      lines.push(
        `| ${j.index} | ${s(j.totalMs)} | ${s(j.bootMs)} | ${s(j.pushMs)} | ${s(j.overheadMs)} | ${s(j.readinessWaitMs)} | ${s(j.handlerWorkMs)} | ${s(j.dependencyMs.dynamo)} / ${s(j.dependencyMs.sqs)} / ${s(j.dependencyMs.vast)} | ${j.readinessChecks} | ${j.calls.toTraining.vast} / ${j.calls.toTraining.dynamo} | ${m.hourlyUsd} | ${m.billedOverIdeal.toFixed(4)} | ${m.costOverBilled.toFixed(3)} | ${m.finishToDestroySeconds.toFixed(1)} s | ${m.pollOffsetSeconds} s | ${m.endedBy} (${m.followUpChecks}) | ${j.calls.completion.vast} / ${j.calls.completion.dynamo} |`,
      );
    }
    lines.push(
      `overhead p50 ${s(g.overheadMs.p50)} s, p95 ${s(g.overheadMs.p95)} s (readiness wait p50 ${s(g.readinessWaitMs.p50)} s, handler work p50 ${s(g.handlerWorkMs.p50)} s)`,
      `billed/ideal p50 ${g.billedOverIdeal.p50}, p95 ${g.billedOverIdeal.p95}; cost/billed p50 ${g.costOverBilled.p50}; finish→destroy p50 ${g.finishToDestroySeconds.p50} s, p95 ${g.finishToDestroySeconds.p95} s`,
    );
  }
  for (const j of result.jobs.filter((r) => !r.ok))
    lines.push(`FAILED ${j.group} job ${j.index}: ${j.error}`);
  if (result.uncaught.length > 0) {
    lines.push(
      `${result.uncaught.length} uncaught error(s) from the code under test (a Lambda would crash):`,
    );
    for (const stack of result.uncaught) lines.push(stack.split("\n").slice(0, 6).join("\n"));
  }
  return lines.join("\n");
}

// ---------- main ----------

export async function runOrchestrationBenchmark(
  overrides: Partial<OrchestrationBenchOptions> = {},
): Promise<OrchestrationBenchResult> {
  const options = { ...DEFAULT_ORCHESTRATION_OPTIONS, ...overrides };
  // Errors nothing in core listened for (an `error` event on a stream after its consumer
  // finished) would crash a Lambda invocation: counted and reported, the other jobs still measured.
  const uncaught: string[] = [];
  const onUncaught = (error: Error) => {
    uncaught.push(error.stack ?? String(error));
  };
  process.on("uncaughtException", onUncaught);
  const started = Date.now();
  const infra = await startInfra();
  const datasetDir = await mkdtemp(join(tmpdir(), "bench-orch-"));
  try {
    await writeDataset(datasetDir, {
      pairs: options.datasetPairs,
      seed: options.seed,
      minBytes: 2_000,
      maxBytes: 8_000,
    });
    await uploadDataset(infra, "bench/", datasetDir);
    const groups = options.schedules.flatMap((spec) =>
      options.pollSeconds.map((poll) => ({ schedule: scheduleOf(spec), poll })),
    );
    options.log(
      `orchestration: ${options.jobs} jobs × ${groups.length} group(s), seed ${options.seed}, boot ${options.provisioningSeconds}+[${options.loadingSeconds.join("..")}] s, training ${options.trainingSeconds} simulated s`,
    );
    const work = groups.flatMap(({ schedule, poll }) =>
      Array.from({ length: options.jobs }, (_, i) => () => runJob(infra, options, schedule, poll, i)),
    );
    const jobs: OrchestrationJobResult[] = new Array(work.length);
    let next = 0;
    const worker = async () => {
      while (next < work.length) {
        const i = next++;
        jobs[i] = await work[i]!();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
    const summaries = groups.map(({ schedule, poll }) =>
      summarize(jobs.filter((j) => j.schedule === schedule.name && j.pollSeconds === poll)),
    );
    const { log: _log, ...rest } = options;
    return {
      options: rest,
      jobs,
      groups: summaries,
      uncaught,
      wallSeconds: round((Date.now() - started) / 1000, 1),
    };
  } finally {
    process.off("uncaughtException", onUncaught);
    await rm(datasetDir, { recursive: true, force: true });
    await infra.stop();
  }
}

if (isMain(import.meta.url)) {
  const flags = new Flags(process.argv.slice(2), {
    values: [
      "jobs",
      "concurrency",
      "seed",
      "schedules",
      "training",
      "poll-seconds",
      "provisioning",
      "loading",
    ],
  });
  const loading = flags.numbers("loading");
  const result = await runOrchestrationBenchmark({
    ...(flags.has("jobs") ? { jobs: Math.max(1, flags.number("jobs") ?? 1) } : {}),
    ...(flags.has("concurrency") ? { concurrency: Math.max(1, flags.number("concurrency") ?? 1) } : {}),
    ...(flags.has("seed") ? { seed: flags.number("seed") } : {}),
    schedules: (flags.string("schedules") ?? "default,2").split(",").filter(Boolean),
    ...(flags.has("training") ? { trainingSeconds: flags.number("training") } : {}),
    ...(flags.has("poll-seconds") ? { pollSeconds: flags.numbers("poll-seconds") } : {}),
    ...(flags.has("provisioning") ? { provisioningSeconds: flags.number("provisioning") } : {}),
    ...(loading ? { loadingSeconds: [loading[0] ?? 0, loading[1] ?? loading[0] ?? 0] } : {}),
  });
  console.log(formatOrchestration(result));
  console.log(JSON.stringify(result, null, 2));
  console.log(`\nbench wall time ${result.wallSeconds} s`);
  process.exit(result.uncaught.length > 0 ? 2 : result.jobs.every((j) => j.ok) ? 0 : 1);
}
