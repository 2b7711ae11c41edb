/**
 * Poller scale: what one poller run costs with 10, 100 and 1,000 live instances. Run:
 *   npx tsx test/bench/poller-scale.ts [--sizes 10,100,1000] [--runs 3] [--seed 80]
 *
 * One simulator (no SSH, time frozen) and one jobs table on DynamoDB Local. For each size, jobs are
 * added until there are N live jobs, each in `booting` on an instance rented for it under its label,
 * its readiness chain alive (as `test/integration/reaper.test.ts` seeds them): every instance belongs
 * to a live job, so a run has nothing to do but look, which is the steady cost paid every minute.
 * Then `runReaper` runs `--runs` times, through the production Vast client (its retries and its
 * per-endpoint spacing: one list page a second) and a store whose DynamoDB client counts every
 * request. Reported per size, medians over the runs: Vast calls (the simulator's own request count),
 * DynamoDB requests by command, wall time. The goal is Vast calls ≤ ⌈N/25⌉ + 2 (the list's pages, and
 * room for a confirmation or two), checked on every run.
 *
 * Training jobs are not in this row: their SSH completion checks are capped at 100 per run
 * (`maxCompletionChecks`), take no Vast call, and cost a lease (two DynamoDB writes) and a few reads
 * each. `runPollerScaleBenchmark` is the same thing as a function.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Clock } from "../../packages/core/src/clock";
import { systemClock } from "../../packages/core/src/clock";
import { InMemoryEventPublisher } from "../../packages/core/src/events";
import {
  JobRequestSchema,
  type ReaperDeps,
  requestHash,
  runReaper,
  vastPortFromService,
} from "../../packages/core/src/jobs";
import { silentLogger } from "../../packages/core/src/observability";
import { InMemoryJobQueue } from "../../packages/core/src/queue";
import { DynamoJobStore } from "../../packages/core/src/store";
import { NO_RATE_LIMITS, VastAIClient, VastAIService } from "../../packages/core/src/vast";
import { startVastSim } from "../../packages/vast-sim/src/index";
import { localCredentials, startDynamoLocal } from "../support/dynamodb";
import { sampleJobRequestInput } from "../support/job-request";
import { generateTestKeyPair } from "../support/ssh-keys";
import {
  type AwsCall,
  type BenchLog,
  countBy,
  Flags,
  isMain,
  median,
  recordAwsCalls,
  round,
  stderrLog,
} from "./common";

export interface PollerScaleOptions {
  /** Live instances (= live jobs) per measurement, ascending. */
  sizes: number[];
  /** Poller runs per size. */
  runs: number;
  seed: number;
  /** Jobs seeded at once (DynamoDB Local runs one transaction at a time; more does not help). */
  seedConcurrency: number;
  log: BenchLog;
}

export const DEFAULT_POLLER_SCALE_OPTIONS: PollerScaleOptions = {
  sizes: [10, 100, 1000],
  runs: 3,
  seed: 80,
  seedConcurrency: 8,
  log: stderrLog,
};

export interface PollerRun {
  vastCalls: number;
  vastByEndpoint: Record<string, number>;
  dynamoCalls: number;
  dynamoByCommand: Record<string, number>;
  wallMs: number;
  pages: number;
  jobsSeen: number;
  errors: number;
  /** Actions the run took (none expected: every job is healthy). */
  actions: Record<string, number>;
}

export interface PollerScaleSize {
  instances: number;
  runs: PollerRun[];
  vastCallsMedian: number;
  vastCallsMax: number;
  dynamoCallsMedian: number;
  wallMsMedian: number;
  /** ⌈N/25⌉ + 2. */
  vastCallsGoal: number;
  /** Every run within the goal, with no error. */
  goalMet: boolean;
}

export interface PollerScaleResult {
  options: Omit<PollerScaleOptions, "log">;
  sizes: PollerScaleSize[];
}

export async function runPollerScaleBenchmark(
  overrides: Partial<PollerScaleOptions> = {},
): Promise<PollerScaleResult> {
  const options = { ...DEFAULT_POLLER_SCALE_OPTIONS, ...overrides };
  const sizes = [...options.sizes].sort((a, b) => a - b);
  const largest = sizes.at(-1) ?? 0;
  const dynamo = await startDynamoLocal();
  const sim = await startVastSim({
    seed: options.seed,
    timeScale: 0,
    ssh: false,
    marketSize: Math.max(300, Math.ceil(largest * 1.3) + 50),
  });
  const calls: AwsCall[] = [];
  const counted = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: "us-east-1",
    credentials: localCredentials,
  });
  recordAwsCalls(counted, (call) => calls.push(call));
  try {
    const clock: Clock = { now: () => sim.admin.now(), sleep: systemClock.sleep };
    const tableName = await dynamo.createJobsTable();
    // Seeding goes through the shared (uncounted) client; the reaper through the counted one.
    const seedStore = new DynamoJobStore({ client: dynamo.doc, tableName, clock });
    const store = new DynamoJobStore({
      client: DynamoDBDocumentClient.from(counted, { marshallOptions: { removeUndefinedValues: true } }),
      tableName,
      clock,
    });
    const pair = generateTestKeyPair("poller@bench");
    // Renting for the seed: no client-side spacing (a create is spaced 4.5 s in production).
    const seeder = new VastAIClient({ apiKey: sim.apiKey, baseUrl: sim.url, rateLimits: NO_RATE_LIMITS });
    // The poller's own client: as deployed (retries, spacing).
    const service = new VastAIService({
      apiKey: sim.apiKey,
      baseUrl: sim.url,
      sshPublicKey: pair.public,
      logger: silentLogger,
    });
    const refuse = async (): Promise<never> => {
      throw new Error("the poller-scale bench has no SSH, datasets or S3: a run reached for them");
    };
    const deps: ReaperDeps = {
      store,
      vast: vastPortFromService(service, pair.public),
      queue: new InMemoryJobQueue(),
      events: new InMemoryEventPublisher(),
      clock,
      logger: silentLogger,
      probe: refuse,
      preflight: refuse,
      ssh: refuse,
      datasets: { reader: () => refuse() as never, inspect: refuse },
      s3: undefined as never,
      artifactBucket: "artifacts",
      secrets: [sim.apiKey],
    };
    const request = JobRequestSchema.parse(sampleJobRequestInput());
    const hash = requestHash(request);
    const freeOffers = sim.admin
      .offers()
      .filter((o) => o.rentable && !o.rented)
      .map((o) => o.id);
    if (freeOffers.length < largest) throw new Error(`the market has ${freeOffers.length} free offers`);
    let seeded = 0;
    const seedOne = async (n: number) => {
      const jobId = `job_scale${String(n).padStart(5, "0")}`;
      let { job } = await seedStore.createJob({ jobId, request, requestHash: hash });
      job = await seedStore.transition(jobId, job.version, { type: "provision_started", reason: "seeded" });
      const label = `vast-rental:${jobId}:1`;
      job = await seedStore.recordAttemptStarted(jobId, job.version, {
        attempt: 1,
        offerId: freeOffers[n] as number,
        machineId: null,
        hourlyUsd: 0.4,
        gpuName: "RTX 4090",
        label,
      });
      const { instanceId } = await seeder.createInstance(freeOffers[n] as number, {
        client_id: "me",
        image: "pytorch/pytorch",
        disk: 20,
        label,
        runtype: "ssh_direc ssh_proxy",
      });
      await seedStore.recordInstanceId(jobId, 1, instanceId);
      await seedStore.transition(jobId, job.version, { type: "instance_created", reason: "seeded" });
      await seedStore.claimReadinessCheck(jobId, 1, 0, "seeded", sim.admin.now());
    };

    const results: PollerScaleSize[] = [];
    for (const size of sizes) {
      const started = Date.now();
      let next = seeded;
      const worker = async () => {
        while (next < size) await seedOne(next++);
      };
      await Promise.all(Array.from({ length: options.seedConcurrency }, worker));
      seeded = size;
      options.log(`poller scale: ${size} live jobs seeded (${((Date.now() - started) / 1000).toFixed(0)} s)`);
      const runs: PollerRun[] = [];
      for (let r = 0; r < options.runs; r++) {
        sim.admin.resetRequestCounts();
        calls.length = 0;
        const t0 = performance.now();
        const summary = await runReaper(deps, { trigger: "bench" });
        const wallMs = performance.now() - t0;
        const vast = sim.admin.requestCounts();
        runs.push({
          vastCalls: vast.total,
          vastByEndpoint: { ...vast.byEndpoint },
          dynamoCalls: calls.length,
          dynamoByCommand: countBy(calls, (c) => c.command.replace(/Command$/, "")),
          wallMs: Math.round(wallMs),
          pages: summary.pages,
          jobsSeen: summary.jobsSeen,
          errors: summary.errors,
          actions: Object.fromEntries(Object.entries(summary.actions).filter(([, n]) => n > 0)),
        });
        options.log(
          `poller scale N=${size} run ${r + 1}/${options.runs}: ${vast.total} Vast calls, ${calls.length} DynamoDB calls, ${Math.round(wallMs)} ms`,
        );
      }
      const goal = Math.ceil(size / 25) + 2;
      results.push({
        instances: size,
        runs,
        vastCallsMedian: median(runs.map((r) => r.vastCalls)),
        vastCallsMax: Math.max(...runs.map((r) => r.vastCalls)),
        dynamoCallsMedian: median(runs.map((r) => r.dynamoCalls)),
        wallMsMedian: round(median(runs.map((r) => r.wallMs)), 0),
        vastCallsGoal: goal,
        goalMet: runs.every((r) => r.vastCalls <= goal && r.errors === 0 && r.jobsSeen === size),
      });
    }
    const { log: _log, ...rest } = options;
    return { options: { ...rest, sizes }, sizes: results };
  } finally {
    counted.destroy();
    await sim.close();
    await dynamo.stop();
  }
}

export function formatPollerScale(result: PollerScaleResult): string {
  return [
    `One poller run over N live instances (each a live job in booting), median of ${result.options.runs} runs`,
    "| N | Vast calls (max) | goal ⌈N/25⌉+2 | DynamoDB calls | by command (last run) | wall time |",
    "| ---: | ---: | ---: | ---: | --- | ---: |",
    ...result.sizes.map((s) => {
      const last = s.runs.at(-1);
      const by = last
        ? Object.entries(last.dynamoByCommand)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")
        : "";
      return `| ${s.instances} | ${s.vastCallsMedian} (${s.vastCallsMax}) | ${s.vastCallsGoal} | ${s.dynamoCallsMedian} | ${by} | ${(s.wallMsMedian / 1000).toFixed(2)} s |`;
    }),
  ].join("\n");
}

if (isMain(import.meta.url)) {
  const flags = new Flags(process.argv.slice(2), { values: ["sizes", "runs", "seed"] });
  const result = await runPollerScaleBenchmark({
    ...(flags.has("sizes") ? { sizes: flags.numbers("sizes") } : {}),
    ...(flags.has("runs") ? { runs: Math.max(1, flags.number("runs") ?? 1) } : {}),
    ...(flags.has("seed") ? { seed: flags.number("seed") } : {}),
  });
  console.log(formatPollerScale(result));
  console.log(JSON.stringify(result, null, 2));
  if (result.sizes.some((s) => !s.goalMet)) process.exitCode = 1;
}
