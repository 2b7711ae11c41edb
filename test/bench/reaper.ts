/**
 * How long a GPU bills after nobody needs it, with the poller/reaper on its schedule. Run:
 *   npx tsx test/bench/reaper.ts [--jobs 6] [--orphans 4] [--interval 60] [--grace 60] [--seed 11]
 *
 * Real time throughout (the simulator at time scale 1), so the reaper's own work — the list call,
 * SSH checks, collecting the artifact over SFTP into S3, the destroy — counts as it would:
 * - `--jobs` jobs go through the real provision and push handlers; each trains for a seeded
 *   20–140 s, so runs finish at unrelated moments of the poller's cycle;
 * - `--orphans` instances carrying our label but no job are rented at seeded moments;
 * - the reaper runs every `--interval` seconds (production: 60) at a fixed rate, as EventBridge
 *   Scheduler would, until every job has ended and every orphan is gone.
 * Reported: seconds from a run's exit code being written to its instance being destroyed, and
 * seconds an orphan lives (its grace period is `--grace`; production default 600), p50 and p95.
 * Exits 1 when a job does not succeed or something is left alive. `runReaperBenchmark` is the same
 * thing as a function. Jobs train 20–140 s whatever the interval: with a short `--interval` (the
 * runner's quick mode) the finish falls on a random phase of the poller's cycle all the same.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { isTerminal, runReaper } from "../../packages/core/src/jobs";
import { seededRandom } from "../../packages/core/src/retry";
import { checkMoneyInvariants } from "../support/invariants";
import { startInfra } from "../support/provision-harness";
import { type PushScenario, startPushScenario } from "../support/push-harness";
import { type BenchLog, Flags, isMain, percentile, round, stderrLog } from "./common";

export interface ReaperBenchOptions {
  jobs: number;
  orphans: number;
  /** Seconds between reaper runs. */
  intervalSeconds: number;
  /** Orphan grace period, seconds. */
  graceSeconds: number;
  seed: number;
  /** Training time of each job is drawn in [min, max] seconds. */
  trainingSeconds: [number, number];
  log: BenchLog;
}

export const DEFAULT_REAPER_BENCH_OPTIONS: ReaperBenchOptions = {
  jobs: 6,
  orphans: 4,
  intervalSeconds: 60,
  graceSeconds: 60,
  seed: 11,
  trainingSeconds: [20, 140],
  log: stderrLog,
};

export interface ReaperBenchResult {
  options: Omit<ReaperBenchOptions, "log">;
  reaperRuns: number;
  finishToDestroySeconds: { p50: number; p95: number; max: number; all: number[] };
  orphanLifetimeSeconds: { p50: number; p95: number; max: number; all: number[] };
  failedJobs: string[];
  invariantViolations: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Tracked {
  jobId: string;
  instanceId: number;
  /** Real ms the run's exit code appeared (seen by a 100 ms watcher; mtime when readable). */
  finishedAt: number | null;
}

export async function runReaperBenchmark(
  overrides: Partial<ReaperBenchOptions> = {},
): Promise<ReaperBenchResult> {
  const options = { ...DEFAULT_REAPER_BENCH_OPTIONS, ...overrides };
  const {
    jobs: jobCount,
    orphans: orphanCount,
    intervalSeconds: intervalS,
    graceSeconds: graceS,
    seed,
  } = options;
  const random = seededRandom(seed);
  const infra = await startInfra();
  let s: PushScenario | undefined;
  try {
    s = await startPushScenario(infra, {
      seed: seed,
      sim: { timeScale: 1, marketSize: 800 },
      settings: { reaper: { orphanGraceMs: graceS * 1000 } },
    });
    const scenario = s;
    const admin = scenario.base.sim.admin;
    const jobs: Tracked[] = [];
    for (let n = 0; n < jobCount; n++) {
      const [least, most] = options.trainingSeconds;
      const seconds = Math.round(least + random() * (most - least));
      // Any region and a loose price cap: enough offers for every job in one seeded market.
      const request = { region: undefined, maxHourlyUsd: 5, minReliability: 0.9 };
      const { jobId, instanceId } = await scenario.jobToPushing(request, { durationSeconds: seconds });
      jobs.push({ jobId, instanceId, finishedAt: null });
    }
    while ((await scenario.pumpPush()).received > 0) {}
    const offset = () => admin.now() - Date.now(); // simulator ms − real ms (constant from here on)

    // Watch for exit codes: the instance folder goes with the instance, so look while it lives.
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const job of jobs) {
          if (job.finishedAt !== null) continue;
          const root = admin.instance(job.instanceId)?.rootDir;
          if (!root) continue;
          const written = await stat(join(root, "jobs", job.jobId, "exit_code")).catch(() => null);
          if (written) job.finishedAt = written.mtimeMs;
        }
        await sleep(100);
      }
    })();

    const orphanAt = Array.from(
      { length: orphanCount },
      () => random() * (intervalS * 2 + graceS) * 1000,
    ).sort((a, b) => a - b);
    const orphans: number[] = [];
    const startedAt = Date.now();
    const renting = (async () => {
      for (const [n, at] of orphanAt.entries()) {
        await sleep(Math.max(0, startedAt + at - Date.now()));
        const offer = admin.offers().find((o) => o.rentable && !o.rented);
        if (!offer) throw new Error("no offer left for an orphan");
        const { instanceId } = await scenario.base.service.client.createInstance(offer.id, {
          client_id: "me",
          image: "pytorch/pytorch",
          disk: 20,
          label: `vast-rental:job_ghost_${seed}_${n}:1`,
        });
        orphans.push(instanceId);
      }
    })();

    let runs = 0;
    const done = async () => {
      const states = await Promise.all(jobs.map(async (j) => (await scenario.store.getJob(j.jobId))?.state));
      const orphansGone =
        orphans.length === orphanCount && orphans.every((id) => admin.instance(id)?.destroyedAtMs);
      return states.every((state) => state && isTerminal(state)) && orphansGone;
    };
    const limit = startedAt + (200 + graceS + intervalS * 4) * 1000;
    for (let tick = 0; !(await done()); tick++) {
      if (Date.now() > limit) throw new Error("the bench did not finish in time");
      await sleep(Math.max(0, startedAt + tick * intervalS * 1000 - Date.now()));
      const summary = await runReaper(scenario.deps, { trigger: "bench" });
      runs++;
      if (summary.errors > 0) options.log(`reaper run ${runs}: ${summary.errors} errors`);
    }
    watching = false;
    await Promise.all([watcher, renting]);

    const toReal = (simMs: number) => simMs - offset();
    const finishToDestroy = jobs.map((job) => {
      const destroyedAt = admin.instance(job.instanceId)?.destroyedAtMs;
      if (job.finishedAt === null || !destroyedAt)
        throw new Error(`job ${job.jobId}: no finish or destroy seen`);
      return (toReal(destroyedAt) - job.finishedAt) / 1000;
    });
    const orphanLives = orphans.map((id) => {
      const inst = admin.instance(id);
      return ((inst?.destroyedAtMs ?? 0) - (inst?.createdAtMs ?? 0)) / 1000;
    });
    const failed = [];
    for (const job of jobs) {
      const record = await scenario.store.getJob(job.jobId);
      if (record?.state !== "succeeded") failed.push(`${job.jobId}: ${record?.state} (${record?.reason})`);
    }
    const invariants = await checkMoneyInvariants(scenario.base.sim, scenario.store);
    const stats = (xs: number[]) => ({
      p50: round(percentile(xs, 50), 1),
      p95: round(percentile(xs, 95), 1),
      max: round(Math.max(...xs), 1),
      all: xs.map((x) => round(x, 1)),
    });
    const { log: _log, ...rest } = options;
    return {
      options: rest,
      reaperRuns: runs,
      finishToDestroySeconds: stats(finishToDestroy),
      orphanLifetimeSeconds: stats(orphanLives),
      failedJobs: failed,
      invariantViolations: invariants.violations,
    };
  } finally {
    await s?.close();
    await infra.stop();
  }
}

export function formatReaperBenchmark(result: ReaperBenchResult): string {
  const { intervalSeconds, graceSeconds, jobs, orphans } = result.options;
  const f = (n: number) => n.toFixed(1);
  const { finishToDestroySeconds: d, orphanLifetimeSeconds: o } = result;
  return [
    `reaper every ${intervalSeconds} s (real time), orphan grace ${graceSeconds} s, ${jobs} jobs, ${orphans} orphans, ${result.reaperRuns} runs`,
    `training finished → instance destroyed: p50 ${f(d.p50)} s, p95 ${f(d.p95)} s, max ${f(d.max)} s`,
    `orphan rented → destroyed:             p50 ${f(o.p50)} s, p95 ${f(o.p95)} s, max ${f(o.max)} s (grace ${graceSeconds} s)`,
  ].join("\n");
}

if (isMain(import.meta.url)) {
  const flags = new Flags(process.argv.slice(2), {
    values: ["jobs", "orphans", "interval", "grace", "seed"],
  });
  const result = await runReaperBenchmark({
    ...(flags.has("jobs") ? { jobs: flags.number("jobs") } : {}),
    ...(flags.has("orphans") ? { orphans: flags.number("orphans") } : {}),
    ...(flags.has("interval") ? { intervalSeconds: flags.number("interval") } : {}),
    ...(flags.has("grace") ? { graceSeconds: flags.number("grace") } : {}),
    ...(flags.has("seed") ? { seed: flags.number("seed") } : {}),
  });
  console.log(formatReaperBenchmark(result));
  console.log(JSON.stringify(result));
  process.exitCode = result.failedJobs.length === 0 && result.invariantViolations.length === 0 ? 0 : 1;
}
