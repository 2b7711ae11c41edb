/**
 * How long a GPU bills after nobody needs it, with the poller/reaper on its schedule. Run:
 *   npm exec -- tsx test/bench/reaper.ts [--jobs 6] [--orphans 4] [--interval 60] [--grace 60] [--seed 11]
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
 * Exits 1 when a job does not succeed or something is left alive.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { isTerminal, runReaper } from "../../packages/core/src/jobs";
import { seededRandom } from "../../packages/core/src/retry";
import { checkMoneyInvariants } from "../support/invariants";
import { startInfra } from "../support/provision-harness";
import { type PushScenario, startPushScenario } from "../support/push-harness";

function arg(name: string, fallback: string): number {
  const i = process.argv.indexOf(`--${name}`);
  return Number(i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback);
}
const JOBS = arg("jobs", "6");
const ORPHANS = arg("orphans", "4");
const INTERVAL_S = arg("interval", "60");
const GRACE_S = arg("grace", "60");
const SEED = arg("seed", "11");

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

interface Tracked {
  jobId: string;
  instanceId: number;
  /** Real ms the run's exit code appeared (seen by a 100 ms watcher; mtime when readable). */
  finishedAt: number | null;
}

async function main(): Promise<number> {
  const random = seededRandom(SEED);
  const infra = await startInfra();
  let s: PushScenario | undefined;
  try {
    s = await startPushScenario(infra, {
      seed: SEED,
      sim: { timeScale: 1, marketSize: 800 },
      settings: { reaper: { orphanGraceMs: GRACE_S * 1000 } },
    });
    const scenario = s;
    const admin = scenario.base.sim.admin;
    const jobs: Tracked[] = [];
    for (let n = 0; n < JOBS; n++) {
      const seconds = Math.round(20 + random() * 120);
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

    const orphanAt = Array.from({ length: ORPHANS }, () => random() * (INTERVAL_S * 2 + 60) * 1000).sort(
      (a, b) => a - b,
    );
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
          label: `vast-rental:job_ghost_${SEED}_${n}:1`,
        });
        orphans.push(instanceId);
      }
    })();

    let runs = 0;
    const done = async () => {
      const states = await Promise.all(jobs.map(async (j) => (await scenario.store.getJob(j.jobId))?.state));
      const orphansGone =
        orphans.length === ORPHANS && orphans.every((id) => admin.instance(id)?.destroyedAtMs);
      return states.every((state) => state && isTerminal(state)) && orphansGone;
    };
    const limit = startedAt + (200 + GRACE_S + INTERVAL_S * 4) * 1000;
    for (let tick = 0; !(await done()); tick++) {
      if (Date.now() > limit) throw new Error("the bench did not finish in time");
      await sleep(Math.max(0, startedAt + tick * INTERVAL_S * 1000 - Date.now()));
      const summary = await runReaper(scenario.deps, { trigger: "bench" });
      runs++;
      if (summary.errors > 0) console.error(`run ${runs}: ${summary.errors} errors`);
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
    const result = {
      jobs: JOBS,
      orphans: ORPHANS,
      intervalSeconds: INTERVAL_S,
      orphanGraceSeconds: GRACE_S,
      reaperRuns: runs,
      finishToDestroySeconds: {
        p50: percentile(finishToDestroy, 50),
        p95: percentile(finishToDestroy, 95),
        max: Math.max(...finishToDestroy),
      },
      orphanLifetimeSeconds: {
        p50: percentile(orphanLives, 50),
        p95: percentile(orphanLives, 95),
        max: Math.max(...orphanLives),
      },
      failedJobs: failed,
      invariantViolations: invariants.violations,
    };
    const f = (n: number) => n.toFixed(1);
    console.log(
      [
        `reaper every ${INTERVAL_S} s, orphan grace ${GRACE_S} s, ${JOBS} jobs, ${ORPHANS} orphans, ${runs} runs`,
        `training finished → instance destroyed: p50 ${f(result.finishToDestroySeconds.p50)} s, p95 ${f(result.finishToDestroySeconds.p95)} s, max ${f(result.finishToDestroySeconds.max)} s`,
        `orphan rented → destroyed:             p50 ${f(result.orphanLifetimeSeconds.p50)} s, p95 ${f(result.orphanLifetimeSeconds.p95)} s, max ${f(result.orphanLifetimeSeconds.max)} s (grace ${GRACE_S} s)`,
      ].join("\n"),
    );
    console.log(JSON.stringify(result));
    return failed.length === 0 && invariants.violations.length === 0 ? 0 : 1;
  } finally {
    await s?.close();
    await infra.stop();
  }
}

process.exitCode = await main();
