/**
 * The chaos run: N jobs through the local stack's front doors while everything that can break does.
 *
 * - The stack (`startLocalStack`) serves the HTTP API, the event bus, DynamoDB Local, fauxqs and the
 *   simulator with a seeded random fault profile (every kind it has: 429s, 5xx, latency, offers
 *   vanishing, double rents, creates that error but rent, late creates, stuck loading, fatal status
 *   messages, SSH refusing and dropping mid-push, outbids, hosts going offline, stale reads).
 * - The functions do not run in this process: the provision and push consumers and two pollers are
 *   forked processes (supervisor.ts, function-process.ts) that crash themselves between side effects,
 *   die at their timeout, are SIGKILLed by the supervisor at seeded moments and come back; their
 *   queue workers deliver some messages twice. The two pollers run on offset timers, so their runs
 *   overlap, and a third runs here whenever a Vast notification asks for one.
 * - Jobs come in through the HTTP API (an API key with an `Idempotency-Key`, or a signed
 *   submission), or as EventBridge `Rental Requested` events; some are sent twice; some are
 *   cancelled at random moments, through the API or a `Rental Cancel Requested` event.
 * - Time is compressed (timings.ts): the deployment's timeouts, visibility timeouts and leases divided
 *   by ten, so a crashed step is taken over in seconds rather than minutes.
 *
 * Then, once every job has ended and the pollers have had time to settle, the invariants are checked
 * (invariants.ts) and a report is made (report.ts). Every random choice of the run is drawn from the
 * seed: which door, when to cancel, the fault profile, crash points, duplicates, kills and restarts.
 * What the seed cannot fix is the interleaving: processes, the network and the simulator's clock
 * run in real time on a shared machine, so a replay meets the same choices in a different order.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import {
  isTerminal,
  type JobRequestInput,
  type Logger,
  StrayChargeSchema,
  silentLogger,
} from "@vast-rental/core";
import type { RandomFaultProfileInput } from "@vast-rental/vast-sim";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../packages/local/src/aws-identity";
import { SAMPLE_DATASET, sampleJobRequest } from "../../packages/local/src/sample/job";
import { submitSigned, uploadSampleDataset } from "../../packages/local/src/sample/run";
import { type LocalStack, startLocalStack } from "../../packages/local/src/stack";
import { createRng, type Rng } from "../../packages/vast-sim/src/random";
import { bundleFunctionProcess } from "./bundle";
import type { FunctionProcessEvent, FunctionRole } from "./function-process";
import { type ChaosSnapshot, checkChaosInvariants, type JobSnapshot } from "./invariants";
import { type ChaosReport, makeReport } from "./report";
import { type SlotConfig, startSupervisor } from "./supervisor";
import {
  chaosDeployment,
  compressedJobSettings,
  compressedPollIntervalMs,
  compressedVastRateLimits,
  DEFAULT_TIME_DIVISOR,
} from "./timings";

export interface ChaosOptions {
  jobs: number;
  seed: number;
  /** Time compression of the deployment (timings.ts). Default 10. */
  divisor?: number;
  /** Most jobs in flight at once; the rest wait to be submitted. Default 40. */
  maxActiveJobs?: number;
  /** Simulated training length, seconds. Default 20. */
  trainingSeconds?: number;
  /** Probability that a function invocation crashes between two of its side effects. Default 0.03. */
  crashProbability?: number;
  /** Probability that a received message is delivered again. Default 0.25. */
  duplicateProbability?: number;
  /** Mean seconds between SIGKILLs by the supervisor. Default 40. */
  killMeanSeconds?: number;
  /**
   * The harness's own faults — crashes between side effects and SIGKILLs — stop this many seconds
   * after the function processes are up, and the run then watches the system recover from what they
   * left (leases held by the dead, messages in flight). The simulator's faults and the duplicate
   * deliveries go on. Bounds the run's tail (the last kill's lease lapse) for a run that must end in
   * a fixed time. Default: no window, the harness's faults go on to the end.
   */
  faultWindowSeconds?: number;
  /** Each job's boot timeout, whole minutes (the request's minimum is 1). Default 2. */
  bootTimeoutMinutes?: number;
  /** Share of jobs cancelled at a random moment. Default 0.1. */
  cancelFraction?: number;
  /** Processes per function. Default provision 2, push 2, poller 2. */
  processes?: Partial<Record<FunctionRole, number>>;
  /** The simulator's fault profile (its seed is the run's). Default `DEFAULT_FAULTS`. */
  faults?: Omit<RandomFaultProfileInput, "seed">;
  /** Give up waiting for the jobs after this long. Default 2 minutes + 12 s per job. */
  timeoutMs?: number;
  /** Progress lines (default: none). */
  progress?: (line: string) => void;
  /** Keep the run's folder (logs, event log, snapshot) even when it passed. */
  keep?: boolean;
}

/** The fault mix: every kind the simulator has, often enough that each happens in a small run. */
export const DEFAULT_FAULTS: Omit<RandomFaultProfileInput, "seed"> = {
  http5xx: 0.03,
  rateLimit: 0.03,
  latency: 0.1,
  latencyMs: [20, 300],
  offerVanish: 0.1,
  doubleRent: 0.5,
  createErrorAfterCreate: 0.05,
  lateCreate: 0.05,
  // Inside the compressed 18 s look-up window: a create later than that is the one gap
  // docs/architecture.md admits (a stray until the next reaper run), not what this run checks.
  lateCreateSeconds: [2, 12],
  stuckLoading: 0.03,
  fatal: 0.04,
  sshRefuse: 0.1,
  sshRefuseSeconds: 4,
  sshDrop: 0.1,
  sshDropBytes: [1_000, 300_000],
  outbid: 0.03,
  outbidAfterSeconds: [0, 15],
  offline: 0.03,
  offlineAfterSeconds: [0, 15],
  staleRead: 0.05,
};

/** How a job comes in. */
type Door = "api-key" | "signed" | "eventbridge";

interface PlannedJob {
  index: number;
  door: Door;
  /** Sent twice (a retried webhook, a duplicated event). */
  twice: boolean;
  request: JobRequestInput;
  /** Cancelled this long after submission, through the API or the bus; null: never. */
  cancel: { afterMs: number; via: "api" | "eventbridge" } | null;
}

interface TrackedJob {
  plan: PlannedJob;
  jobId: string | null;
  submittedAt: number;
  ended: boolean;
}

export interface ChaosResult {
  report: ChaosReport;
  violations: string[];
  /** Where the processes' logs and the event log are (kept when the run failed). */
  workDir: string | null;
}

function planJobs(
  options: Required<Pick<ChaosOptions, "jobs" | "seed" | "cancelFraction" | "bootTimeoutMinutes">>,
  rng: Rng,
) {
  const gpus = ["RTX 4090", "RTX 3090"];
  return Array.from({ length: options.jobs }, (_, index): PlannedJob => {
    const roll = rng.next();
    const door: Door = roll < 0.4 ? "api-key" : roll < 0.75 ? "signed" : "eventbridge";
    const cancel =
      rng.next() < options.cancelFraction
        ? {
            afterMs: Math.round(rng.next() * 40_000),
            via: rng.next() < 0.5 ? ("api" as const) : ("eventbridge" as const),
          }
        : null;
    return {
      index,
      door,
      twice: rng.next() < 0.15,
      request: sampleJobRequest({
        gpuType: gpus[index % gpus.length]!,
        region: undefined,
        maxHourlyUsd: 1,
        budgetUsd: 5,
        maxAttempts: 3,
        bootTimeoutMinutes: options.bootTimeoutMinutes,
        maxRuntimeMinutes: 30,
        idempotencyKey: `chaos-${options.seed}-${index}`,
      }),
      cancel,
    };
  });
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const startedAt = Date.now();
  const seed = options.seed;
  const divisor = options.divisor ?? DEFAULT_TIME_DIVISOR;
  const trainingSeconds = options.trainingSeconds ?? 20;
  const progress = options.progress ?? (() => {});
  const rng = createRng(seed);
  const plans = planJobs(
    {
      jobs: options.jobs,
      seed,
      cancelFraction: options.cancelFraction ?? 0.1,
      // The deployment's default of 15 minutes, compressed (1.5), rounded up to whole minutes.
      bootTimeoutMinutes: options.bootTimeoutMinutes ?? 2,
    },
    createRng(seed ^ 0x1b873593),
  );
  const workDir = await mkdtemp(join(tmpdir(), "vast-rental-chaos-"));
  const logDir = join(workDir, "logs");
  await mkdir(logDir);
  const eventsFile = join(workDir, "events.jsonl");
  let keep = false;

  const savedLogLevel = process.env.POWERTOOLS_LOG_LEVEL;
  process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
  const warnings: string[] = [];
  const logger: Logger = {
    ...silentLogger,
    warn: (message, extra) => void warnings.push(`${message} ${JSON.stringify(extra ?? {})}`),
    error: (message, extra) => void warnings.push(`${message} ${JSON.stringify(extra ?? {})}`),
  };

  const deployment = chaosDeployment(divisor);
  const settings = compressedJobSettings(divisor);
  const vastRateLimits = compressedVastRateLimits(divisor);
  let stack: LocalStack | null = null;
  let supervisor: ReturnType<typeof startSupervisor> | null = null;
  try {
    const bundle = await bundleFunctionProcess(workDir);
    stack = await startLocalStack({
      logger,
      deployment,
      settings,
      vastRateLimits,
      runFunctions: false,
      orphanGraceSeconds: Math.ceil(600 / divisor),
      vast: {
        kind: "simulator",
        seed,
        marketSize: 2000,
        trainingSeconds,
        provisioningSeconds: 1,
        loadingSeconds: 2,
        faults: { ...(options.faults ?? DEFAULT_FAULTS), seed },
      },
    });
    const s = stack;
    await uploadSampleDataset(s.aws.s3, SAMPLE_DATASET);
    progress(`stack up; ${options.jobs} jobs, seed ${seed}, work dir ${workDir}`);

    const pollIntervalMs = compressedPollIntervalMs(divisor);
    const counts = { provision: 2, push: 2, poller: 2, ...options.processes };
    const slots: SlotConfig[] = [];
    for (const role of ["provision", "push", "poller"] as const) {
      for (let i = 1; i <= counts[role]; i++) {
        slots.push({
          name: `${role}-${i}`,
          role,
          environment: { ...s.environment },
          deployment,
          settings,
          vastRateLimits,
          queue: role === "poller" ? null : s.aws.queues[role],
          crashProbability: options.crashProbability ?? 0.03,
          duplicates: { probability: options.duplicateProbability ?? 0.25, maxDelaySeconds: 3 },
          // Offset timers: the runs of two pollers start half an interval apart and overlap.
          pollIntervalMs,
          pollerPhaseMs: ((i - 1) * pollIntervalMs) / counts.poller,
          receiveWaitSeconds: 1,
          eventsFile,
        });
      }
    }
    supervisor = startSupervisor({
      bundle,
      slots,
      rng,
      killMeanSeconds: options.killMeanSeconds ?? 40,
      logDir,
      env: { POWERTOOLS_LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? "SILENT" },
    });

    // The first clients arrive once every function process has taken work: six cold starts at once
    // hold both cores of a small machine for seconds, and that start-up is not what the run is for.
    const startsBy = Date.now() + 60_000;
    while (Date.now() < startsBy) {
      const started = (await readEvents(eventsFile)).filter((e) => e.kind === "started").length;
      if (started >= slots.length) break;
      await sleep(250);
    }
    progress(`function processes up after ${Math.round((Date.now() - startedAt) / 1000)} s`);
    if (options.faultWindowSeconds !== undefined) {
      supervisor.calm(Date.now() + options.faultWindowSeconds * 1000);
      progress(`crashes and kills stop in ${options.faultWindowSeconds} s`);
    }

    const table = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: s.dynamoEndpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
      }),
    );
    const doors = frontDoors(s, table);
    const tracked: TrackedJob[] = [];
    const watcher = startWatcher(s);
    const timeoutMs = options.timeoutMs ?? 120_000 + options.jobs * 12_000;
    const deadline = startedAt + timeoutMs;
    const maxActive = options.maxActiveJobs ?? 40;
    const cancels: Promise<void>[] = [];
    let duplicateSubmissions = 0;
    let cancelsSent = 0;
    /** What the cancels got back: 200, 409 (already ended), a 5xx after every try, "event". */
    const cancelAnswers: Record<string, number> = {};

    const refresh = async () => {
      const open = tracked.filter((t) => t.jobId && !t.ended);
      for (let i = 0; i < open.length; i += 100) {
        const batch = open.slice(i, i + 100);
        const jobs = await s.deps.store.getJobs(batch.map((t) => t.jobId!));
        for (const job of jobs) {
          if (isTerminal(job.state)) {
            const t = batch.find((b) => b.jobId === job.jobId);
            if (t) t.ended = true;
          }
        }
      }
    };
    let lastLine = 0;
    const report = () => {
      if (Date.now() - lastLine < 10_000) return;
      lastLine = Date.now();
      const ended = tracked.filter((t) => t.ended).length;
      progress(
        `${Math.round((Date.now() - startedAt) / 1000)} s: ${tracked.length}/${options.jobs} submitted, ${ended} ended, ` +
          `${s.sim!.admin.instances().filter((i) => i.destroyedAtMs === null).length} instances alive, ` +
          `${supervisor!.exits.length} process deaths`,
      );
    };

    /** One client's submission: retried, perhaps sent again, perhaps cancelled later. */
    const submitJob = async (t: TrackedJob) => {
      const plan = t.plan;
      t.jobId = await submitWithRetries(
        () => doors.submit(plan, false),
        () => doors.submit(plan, true),
      );
      const took = Date.now() - t.submittedAt;
      if (took > 3000)
        progress(`job ${plan.index} (${plan.door}) took ${(took / 1000).toFixed(1)} s to submit`);
      if (plan.twice) {
        duplicateSubmissions++;
        const again = await submitWithRetries(() => doors.submit(plan, true));
        if (again !== t.jobId)
          throw new Error(`job ${plan.index} sent twice made two jobs: ${t.jobId} and ${again}`);
      }
      if (plan.cancel) {
        const { afterMs, via } = plan.cancel;
        cancels.push(
          sleep(afterMs).then(async () => {
            cancelsSent++;
            const answer = await doors.cancel(t.jobId!, via).catch((error: unknown) => String(error));
            cancelAnswers[answer] = (cancelAnswers[answer] ?? 0) + 1;
          }),
        );
      }
    };
    // Clients do not queue behind each other: a submission (its retries, its second sending) goes
    // on while the next client arrives. The first one that fails every try stops the run.
    const submissions: Promise<void>[] = [];
    let submitError: { error: unknown } | null = null;
    for (const plan of plans) {
      while (tracked.filter((t) => !t.ended).length >= maxActive && Date.now() < deadline) {
        await sleep(500);
        await refresh();
        report();
      }
      if (submitError) break;
      const t: TrackedJob = { plan, jobId: null, submittedAt: Date.now(), ended: false };
      tracked.push(t);
      submissions.push(
        submitJob(t).catch((error: unknown) => {
          submitError ??= { error };
        }),
      );
      await sleep(rng.next() * 300);
    }
    await Promise.all(submissions);
    if (submitError) throw (submitError as { error: unknown }).error;
    progress(`all ${options.jobs} jobs submitted after ${Math.round((Date.now() - startedAt) / 1000)} s`);
    while (tracked.some((t) => !t.ended) && Date.now() < deadline) {
      await sleep(1000);
      await refresh();
      report();
    }
    await Promise.allSettled(cancels);
    const jobsEndedAt = Date.now();
    // Destroys the steps left to the reaper, and strays, go on the pollers' next runs (briefly when
    // the run is out of time: what is still alive then is reported).
    const settleMs = tracked.every((t) => t.ended) ? 4 * pollIntervalMs + leaseMsOf(settings) : 5_000;
    const settleUntil = Date.now() + settleMs;
    while (Date.now() < settleUntil && s.sim!.admin.instances().some((i) => i.destroyedAtMs === null)) {
      await sleep(500);
    }
    await supervisor.stop();
    await watcher.stop();
    progress(`jobs ended after ${Math.round((jobsEndedAt - startedAt) / 1000)} s; checking`);

    const snapshot: ChaosSnapshot = {
      jobs: await Promise.all(tracked.filter((t) => t.jobId).map((t) => jobSnapshot(s, table, t.jobId!))),
      instances: s.sim!.admin.instances(),
      launches: watcher.launches(),
      // The step that finds a stray destroys it at once; else the reaper's next runs, past its lease.
      strayLimitSeconds: (2 * pollIntervalMs + leaseMsOf(settings)) / 1000,
    };
    const verdict = checkChaosInvariants(snapshot);
    const events = await readEvents(eventsFile);
    const violations = [...verdict.violations];
    const unsubmitted = options.jobs - tracked.filter((t) => t.jobId).length;
    if (unsubmitted > 0) violations.push(`${unsubmitted} jobs could not be submitted before the deadline`);
    for (const exit of supervisor.exits.filter((e) => e.cause === "exit")) {
      const tail = await tailOf(join(logDir, `${exit.name}.log`));
      violations.push(`function process ${exit.name} exited (code ${exit.code}) on its own: ${tail}`);
    }
    const result = makeReport({
      options: {
        jobs: options.jobs,
        seed,
        divisor,
        trainingSeconds,
        faultWindowSeconds: options.faultWindowSeconds ?? null,
      },
      snapshot,
      verdict,
      events,
      exits: supervisor.exits,
      starts: supervisor.starts,
      finishedAt: watcher.finishedAt(),
      faults: s.sim!.admin.faultCounts(),
      vastCalls: s.sim!.admin.requestCounts().total,
      deadLetters: await deadLetterCounts(s),
      harness: { duplicateSubmissions, cancelsSent, cancelAnswers },
      wallSeconds: (jobsEndedAt - startedAt) / 1000,
      violations,
    });
    keep = violations.length > 0 || options.keep === true;
    if (keep) {
      await writeFile(
        join(workDir, "snapshot.json"),
        JSON.stringify({ snapshot, verdict, warnings }, null, 1),
      );
    }
    return { report: result, violations, workDir: keep ? workDir : null };
  } catch (error) {
    keep = true;
    throw error;
  } finally {
    await supervisor?.stop();
    await stack?.stop();
    if (savedLogLevel === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
    else process.env.POWERTOOLS_LOG_LEVEL = savedLogLevel;
    if (!keep) await rm(workDir, { recursive: true, force: true });
    else progress(`kept the run's logs in ${workDir}`);
  }
}

/**
 * A client's retries: the same submission (the same idempotency key) again after a refusal it may
 * outlive (a 5xx, a timeout), signed anew; five tries, then the run fails.
 */
async function submitWithRetries(first: () => Promise<string>, retry = first): Promise<string> {
  for (let tries = 1; ; tries++) {
    try {
      return await (tries === 1 ? first() : retry());
    } catch (error) {
      if (tries >= 5) throw error;
      await sleep(1000 * tries);
    }
  }
}

function leaseMsOf(settings: ReturnType<typeof compressedJobSettings>): number {
  return Math.max(settings.reaper?.leaseMs ?? 0, settings.completion?.leaseMs ?? 0);
}

/** The ways in: the HTTP API with a key or a signature, and the event bus. */
function frontDoors(stack: LocalStack, table: DynamoDBDocumentClient) {
  const bus = new EventBridgeClient({
    endpoint: stack.bus.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const put = async (detailType: string, detail: unknown) => {
    const out = await bus.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: "chaos.backend",
            DetailType: detailType,
            Detail: JSON.stringify(detail),
            EventBusName: stack.environment.EVENT_BUS_NAME,
          },
        ],
      }),
    );
    if (out.FailedEntryCount)
      throw new Error(`the bus refused ${detailType}: ${JSON.stringify(out.Entries)}`);
  };
  /** The job an idempotency key made (a `Rental Requested` event is handled in the background). */
  const jobByKey = async (key: string): Promise<string> => {
    for (let i = 0; i < 600; i++) {
      const found = await table.send(
        new GetCommand({ TableName: stack.tableName, Key: { pk: `IDEMPOTENCY#${key}`, sk: "IDEMPOTENCY" } }),
      );
      if (found.Item?.jobId) return String(found.Item.jobId);
      await sleep(100);
    }
    throw new Error(`no job for idempotency key ${key} a minute after its event`);
  };
  return {
    async submit(plan: PlannedJob, again = false): Promise<string> {
      const key = plan.request.idempotencyKey!;
      if (plan.door === "eventbridge") {
        await put("Rental Requested", plan.request);
        return jobByKey(key);
      }
      if (plan.door === "signed") {
        // A retry is signed anew; a signature is per second, and the same one twice is a replay (409).
        if (again) await sleep(1010 - (Date.now() % 1000));
        return (await submitSigned(stack.apiUrl, stack.submissionSecret, plan.request)).jobId;
      }
      const { idempotencyKey: _, ...request } = plan.request;
      const response = await fetch(`${stack.apiUrl}/v1/jobs`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${stack.apiKey}`,
          "content-type": "application/json",
          "idempotency-key": key,
        },
        body: JSON.stringify(request),
      });
      const text = await response.text();
      if (response.status !== 202) throw new Error(`POST /v1/jobs answered ${response.status}: ${text}`);
      return (JSON.parse(text) as { jobId: string }).jobId;
    },
    /** Returns what the API answered (a 5xx or 429 is tried again, as a client would, four times). */
    async cancel(jobId: string, via: "api" | "eventbridge"): Promise<string> {
      const reason = "chaos: cancelled at a random moment";
      if (via === "eventbridge") {
        await put("Rental Cancel Requested", { jobId, reason });
        return "event";
      }
      let status = 0;
      for (let tries = 1; tries <= 5; tries++) {
        const response = await fetch(`${stack.apiUrl}/v1/jobs/${jobId}/cancel`, {
          method: "POST",
          headers: { authorization: `Bearer ${stack.apiKey}`, "content-type": "application/json" },
          body: JSON.stringify({ reason }),
        });
        status = response.status;
        await response.text();
        // 200, or 409: the job had already ended.
        if (status !== 429 && status < 500) break;
        await sleep(1000 * tries);
      }
      return String(status);
    },
  };
}

/**
 * Watches every live instance's job folder: when its run wrote its exit code (the training's real
 * end, for "finish → destroy"), and every training pid it ever recorded (a second one would be a
 * second launch). The folder goes with the instance, so it is read while the instance lives.
 */
function startWatcher(stack: LocalStack) {
  const finished = new Map<number, number>();
  const pids = new Map<number, Set<number>>();
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const instance of stack.sim!.admin.instances()) {
        if (instance.destroyedAtMs !== null || !instance.label) continue;
        const jobId = instance.label.split(":")[1];
        if (!jobId) continue;
        const dir = join(instance.rootDir, "jobs", jobId);
        const pid = await readFile(join(dir, "train.pid"), "utf8").catch(() => "");
        if (/^\d+$/.test(pid.trim())) {
          const set = pids.get(instance.id) ?? new Set();
          set.add(Number(pid.trim()));
          pids.set(instance.id, set);
        }
        if (!finished.has(instance.id)) {
          const exit = await stat(join(dir, "exit_code")).catch(() => null);
          if (exit) finished.set(instance.id, exit.mtimeMs);
        }
      }
      await sleep(400);
    }
  })();
  return {
    launches: () => Object.fromEntries([...pids].map(([id, set]) => [id, [...set]])),
    finishedAt: () => new Map(finished),
    async stop() {
      running = false;
      await loop;
    },
  };
}

async function jobSnapshot(
  stack: LocalStack,
  table: DynamoDBDocumentClient,
  jobId: string,
): Promise<JobSnapshot> {
  const store = stack.deps.store;
  const [job, attempts, timeline] = await Promise.all([
    store.getJob(jobId),
    store.listAttempts(jobId),
    store.getTimeline(jobId),
  ]);
  if (!job) throw new Error(`job ${jobId} is not in the table`);
  // Stray charges have no reader in the store's port (nothing but this check needs them).
  const strays = await table.send(
    new QueryCommand({
      TableName: stack.tableName,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :sk)",
      ExpressionAttributeValues: { ":pk": `JOB#${jobId}`, ":sk": "STRAY#" },
    }),
  );
  return {
    job,
    attempts,
    timeline,
    strays: (strays.Items ?? []).map((item) => StrayChargeSchema.parse(item)),
  };
}

async function deadLetterCounts(stack: LocalStack): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of ["provisionDlq", "pushDlq", "commandsDlq"] as const) {
    const attributes = await stack.aws.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: stack.aws.queues[name].url,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    out[name] =
      Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0) +
      Number(attributes.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  }
  return out;
}

async function readEvents(file: string): Promise<FunctionProcessEvent[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((line) => line.trim())
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as FunctionProcessEvent];
      } catch {
        // A line cut by a SIGKILL mid-write.
        return [];
      }
    });
}

async function tailOf(file: string): Promise<string> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text.trim().split("\n").slice(-5).join(" | ").slice(-800);
}
