/**
 * `npm run bench`: every benchmark in one run, one report. Run:
 *   npm run bench [-- --quick | --tiny] [--out DIR] [--only push,orchestration,...] [--data-dir DIR]
 *
 * Runs the benchmarks one after the other (never two at once: they would measure each other) and
 * writes `bench-results.md` and `bench-results.json` into `--out` (the repository root by default;
 * both are git-ignored, the README quotes the table by hand). The header says what the figures were
 * measured on: CPU, cores, memory, OS, Node, the load average when the run started, the date and the
 * commit. Then one row per figure the issue asks for, with the goal it is held to and whether it is
 * met, then each benchmark's own tables.
 *
 * Sizes: the default is the issue's (≈ 300 MB and ≈ 1 GB datasets, 10/100/1,000 instances, …; about
 * half an hour on 2 cores); `--quick` shrinks every size for a look in a few minutes (its goals are
 * still evaluated, on smaller samples); `--tiny` is the smoke test's (seconds per benchmark: it proves
 * the runner and every row work, its figures mean nothing). Every comparison (ours against tar,
 * the API against a bare route, a handler against an empty one) is measured side by side within
 * one run, in interleaved rounds, and reported as the median over the rounds.
 *
 * Exits 1 when a benchmark failed (its row says why); a goal not met is reported, not an error.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { type ApiBenchOptions, type ApiBenchResult, formatApiBenchmark, runApiBenchmark } from "./api";
import { type BenchLog, Flags, isMain, median, percentile, stderrLog } from "./common";
import { formatHandlerBundles, type HandlerBundlesResult, runHandlerBundles } from "./handler-bundles";
import { formatMachine, type MachineFacts, machineFacts } from "./machine";
import {
  formatOrchestration,
  type OrchestrationBenchOptions,
  type OrchestrationBenchResult,
  runOrchestrationBenchmark,
} from "./orchestration";
import {
  formatPollerScale,
  type PollerScaleOptions,
  type PollerScaleResult,
  runPollerScaleBenchmark,
} from "./poller-scale";
import { formatPushBenchmark, type PushBenchOptions, type PushBenchResult, runPushBenchmark } from "./push";
import {
  formatReaperBenchmark,
  type ReaperBenchOptions,
  type ReaperBenchResult,
  runReaperBenchmark,
} from "./reaper";

const repoRoot = join(import.meta.dirname, "..", "..");

export const BENCHMARKS = ["push", "orchestration", "poller", "api", "bundles", "reaper"] as const;
export type BenchmarkName = (typeof BENCHMARKS)[number];
export type BenchMode = "full" | "quick" | "tiny";

/** The report's rows, in order: every figure issue 12 asks for. */
export const ROW_IDS = [
  "push-small",
  "push-large",
  "overhead",
  "poller",
  "intake",
  "bundles",
  "money-billed",
  "money-destroy",
] as const;
export type RowId = (typeof ROW_IDS)[number];

export interface ReportRow {
  id: RowId;
  title: string;
  measured: string;
  goal: string;
  /** null: the issue sets no number for this row; a failed benchmark is `false` with `error`. */
  met: boolean | null;
  error?: string;
}

interface Sizes {
  push: Partial<PushBenchOptions>;
  orchestration: Partial<OrchestrationBenchOptions>;
  poller: Partial<PollerScaleOptions>;
  api: Partial<ApiBenchOptions>;
  bundles: { runs: number };
  reaper: Partial<ReaperBenchOptions>;
}

/** What each mode runs. Full is the issue's sizes; each benchmark's own defaults are the same. */
export const MODE_SIZES: Record<BenchMode, Sizes> = {
  full: {
    push: { smallPairs: 2000, largeFiles: 8, largeMb: 128, runs: 5, rss: true },
    orchestration: { jobs: 5, schedules: ["default"], pollSeconds: [60], trainingSeconds: 1800 },
    poller: { sizes: [10, 100, 1000], runs: 3 },
    api: { seconds: 10, connections: 10, warmup: 2, rounds: 3 },
    bundles: { runs: 5 },
    reaper: { jobs: 6, orphans: 4, intervalSeconds: 60, graceSeconds: 60 },
  },
  quick: {
    push: { smallPairs: 300, largeFiles: 4, largeMb: 16, runs: 3, rss: true },
    orchestration: {
      jobs: 3,
      schedules: ["default"],
      pollSeconds: [60],
      trainingSeconds: 1800,
      loadingSeconds: [5, 15],
    },
    poller: { sizes: [10, 100], runs: 3 },
    api: { seconds: 3, connections: 10, warmup: 1, rounds: 3 },
    bundles: { runs: 3 },
    reaper: { jobs: 3, orphans: 2, intervalSeconds: 15, graceSeconds: 15, trainingSeconds: [10, 40] },
  },
  tiny: {
    push: { smallPairs: 10, largeFiles: 1, largeMb: 1, runs: 1, rss: false },
    orchestration: {
      jobs: 1,
      schedules: ["default"],
      pollSeconds: [60],
      trainingSeconds: 1800,
      provisioningSeconds: 1,
      loadingSeconds: [1, 1],
      datasetPairs: 2,
    },
    poller: { sizes: [3], runs: 1 },
    api: { seconds: 1, connections: 2, warmup: 1, rounds: 1 },
    bundles: { runs: 1 },
    reaper: { jobs: 1, orphans: 1, intervalSeconds: 2, graceSeconds: 2, trainingSeconds: [1, 2] },
  },
};

export interface BenchRunOptions {
  mode: BenchMode;
  out: string;
  only: readonly BenchmarkName[];
  /** Where the push benchmark keeps its generated datasets (its default: a folder in the temp dir). */
  dataDir?: string;
  log: BenchLog;
}

export interface BenchResults {
  push?: PushBenchResult;
  orchestration?: OrchestrationBenchResult;
  poller?: PollerScaleResult;
  api?: ApiBenchResult;
  bundles?: HandlerBundlesResult;
  reaper?: ReaperBenchResult;
}

export interface BenchReport {
  mode: BenchMode;
  machine: MachineFacts;
  /** Load averages when the last benchmark ended. */
  loadAverageAtEnd: [number, number, number];
  wallSeconds: number;
  rows: ReportRow[];
  results: BenchResults;
  /** Benchmarks that threw, by name. */
  errors: Partial<Record<BenchmarkName, string>>;
}

export async function runBenchmarks(options: BenchRunOptions): Promise<BenchReport> {
  const machine = machineFacts(repoRoot);
  const started = Date.now();
  const sizes = MODE_SIZES[options.mode];
  const results: BenchResults = {};
  const errors: Partial<Record<BenchmarkName, string>> = {};
  const log = options.log;
  /** Runs one benchmark unless left out; `problem` names what makes its result a failure. */
  const step = async <K extends BenchmarkName>(
    name: K,
    fn: () => Promise<NonNullable<BenchResults[K]>>,
    problem: (result: NonNullable<BenchResults[K]>) => string | null = () => null,
  ) => {
    if (!options.only.includes(name)) return;
    log(`== ${name} (${options.mode}) ==`);
    const t0 = Date.now();
    try {
      const result = await fn();
      results[name] = result;
      const wrong = problem(result);
      if (wrong) errors[name] = wrong;
    } catch (error) {
      errors[name] = error instanceof Error ? (error.stack ?? error.message) : String(error);
    }
    if (errors[name]) log(`${name} failed: ${errors[name]}`);
    log(`== ${name} done in ${((Date.now() - t0) / 1000).toFixed(0)} s ==`);
  };
  await step("push", () =>
    runPushBenchmark({ ...sizes.push, ...(options.dataDir ? { dataDir: options.dataDir } : {}), log }),
  );
  await step(
    "orchestration",
    () => runOrchestrationBenchmark({ ...sizes.orchestration, log }),
    (result) => {
      const failed = result.jobs.filter((j) => !j.ok);
      if (result.uncaught.length > 0) return `uncaught errors in the code under test: ${result.uncaught[0]}`;
      return failed.length > 0 ? `${failed.length} job(s) failed: ${failed[0]?.error}` : null;
    },
  );
  await step(
    "poller",
    () => runPollerScaleBenchmark({ ...sizes.poller, log }),
    (result) =>
      result.sizes.some((s) => s.runs.some((r) => r.errors > 0 || r.jobsSeen !== s.instances))
        ? "a poller run had errors or did not see every job"
        : null,
  );
  await step(
    "api",
    () => runApiBenchmark({ ...sizes.api, log }),
    (result) =>
      result.targets.some((t) => t.bad > 0) || result.storedJobs === 0
        ? "some requests were not answered 2xx"
        : null,
  );
  await step("bundles", () => runHandlerBundles({ ...sizes.bundles, log }));
  await step(
    "reaper",
    () => runReaperBenchmark({ ...sizes.reaper, log }),
    (result) =>
      result.failedJobs.length > 0 || result.invariantViolations.length > 0
        ? `failed jobs: ${result.failedJobs.join("; ")}; invariants: ${result.invariantViolations.join("; ")}`
        : null,
  );
  return {
    mode: options.mode,
    machine,
    loadAverageAtEnd: loadavg().map((n) => Math.round(n * 100) / 100) as [number, number, number],
    wallSeconds: Math.round((Date.now() - started) / 1000),
    rows: reportRows(results, errors),
    results,
    errors,
  };
}

// ---------- rows ----------

const x = (n: number) => `${n.toFixed(2)}×`;
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The rows of the report, from whatever results there are; a missing result is a failed row. */
export function reportRows(
  results: BenchResults,
  errors: Partial<Record<BenchmarkName, string>>,
): ReportRow[] {
  const rows: ReportRow[] = [];
  const failed = (id: RowId, title: string, goal: string, bench: BenchmarkName): ReportRow => ({
    id,
    title,
    goal,
    measured: errors[bench] ? "benchmark failed (see its section)" : "not run",
    met: errors[bench] ? false : null,
    ...(errors[bench] ? { error: firstLine(errors[bench]) } : {}),
  });

  // 1. Push, both datasets.
  for (const name of ["small", "large"] as const) {
    const id: RowId = name === "small" ? "push-small" : "push-large";
    const goal =
      "ours ≥ 0.95 × tar c \\| ssh tar x, on both datasets (ours includes its sha256 manifest check)";
    const dataset = results.push?.datasets.find((d) => d.name === name);
    const title =
      name === "small"
        ? `Dataset push, many small files${dataset ? ` (${dataset.files.toLocaleString("en")} files, ${(dataset.bytes / 1e6).toFixed(0)} MB)` : ""}`
        : `Dataset push, a few large files${dataset ? ` (${dataset.files} files, ${(dataset.bytes / 1e6).toFixed(0)} MB)` : ""}`;
    if (!results.push || !dataset) {
      rows.push(failed(id, title, goal, "push"));
      continue;
    }
    const tool = (t: string) => dataset.tools.find((r) => r.tool === t);
    const ours = tool("ours");
    const ratio = (t: string) => {
      const r = tool(t);
      return ours && r ? r.medianMs / ours.medianMs : null;
    };
    const vsTar = ours?.speedVsTarPaired ?? ours?.speedVsTar ?? null;
    const rss = results.push.rss.filter((r) => r.dataset === name);
    const parts = [
      ours
        ? `ours ${(ours.medianMs / 1000).toFixed(2)} s (${ours.mbPerSecond.toFixed(0)} MB/s)`
        : "ours not run",
      vsTar !== null ? `${x(vsTar)} tar\\|ssh` : null,
      ratio("tar-verified") !== null ? `${x(ratio("tar-verified")!)} tar\\|ssh + sha256sum -c` : null,
      ratio("rsync") !== null ? `${x(ratio("rsync")!)} rsync -a` : null,
      ratio("scp") !== null ? `${x(ratio("scp")!)} scp -r` : null,
      rss.length > 0
        ? `peak RSS ${rss.map((r) => `${r.maxRssMb.toFixed(0)} MB at ${(r.bytes / 1e6).toFixed(0)} MB`).join(", ")}`
        : null,
    ].filter(Boolean);
    rows.push({
      id,
      title,
      measured: `${parts.join("; ")} (speed as a multiple of each tool's, median of ${results.push.options.runs} interleaved runs)`,
      goal,
      met: vsTar === null ? null : vsTar >= 0.95,
    });
  }

  // 2. Overhead, 6. money: from the orchestration groups.
  const orchestration = results.orchestration;
  const group60 = orchestration?.groups.find((g) => g.pollSeconds === 60) ?? orchestration?.groups[0];
  const faster = orchestration?.groups.find((g) => g !== group60 && g.schedule === group60?.schedule);
  const overheadGoal = "≤ 1 s p50";
  if (!orchestration || !group60) {
    rows.push(failed("overhead", "Orchestration overhead", overheadGoal, "orchestration"));
  } else {
    const overheads = orchestration.jobs.filter((j) => j.ok).map((j) => j.overheadMs);
    const p50 = percentile(overheads, 50);
    const p95 = percentile(overheads, 95);
    const waits = median(orchestration.jobs.filter((j) => j.ok).map((j) => j.readinessWaitMs));
    const dynamoMs = median(orchestration.jobs.filter((j) => j.ok).map((j) => j.dependencyMs.dynamo));
    const withoutDynamo = median(
      orchestration.jobs.filter((j) => j.ok).map((j) => j.overheadMs - j.dependencyMs.dynamo),
    );
    const c = group60.calls;
    rows.push({
      id: "overhead",
      title: "Orchestration overhead (POST /v1/jobs → training, minus boot and push)",
      measured:
        `p50 ${sec(p50)}, p95 ${sec(p95)} over ${overheads.length} jobs (of which readiness wait p50 ${sec(waits)}, ` +
        `time inside DynamoDB Local calls p50 ${sec(dynamoMs)}; overhead without that time p50 ${sec(withoutDynamo)}); per job: ${c.toTraining.vast} Vast + ${c.toTraining.dynamo} DynamoDB calls to training, ` +
        `${c.completion.vast} Vast + ${c.completion.dynamo} DynamoDB for the poller run that collects and destroys`,
      goal: overheadGoal,
      met: p50 <= 1000,
    });
  }

  // 3. Poller scale.
  const pollerGoal = "Vast calls ≤ ⌈N/25⌉ + 2 per run";
  if (!results.poller) {
    rows.push(failed("poller", "Poller scale", pollerGoal, "poller"));
  } else {
    rows.push({
      id: "poller",
      title: "Poller run over N live instances (Vast calls / DynamoDB calls / wall time)",
      measured: results.poller.sizes
        .map(
          (s) =>
            `N=${s.instances.toLocaleString("en")}: ${s.vastCallsMax} / ${s.dynamoCallsMedian} / ${sec(s.wallMsMedian)} (goal ${s.vastCallsGoal})`,
        )
        .join("; "),
      goal: pollerGoal,
      met: results.poller.sizes.every((s) => s.goalMet),
    });
  }

  // 4. Intake.
  const intakeGoal = "none set (compared with a bare Hono route)";
  if (!results.api) {
    rows.push(failed("intake", "Intake, POST /v1/jobs", intakeGoal, "api"));
  } else {
    const t = (name: string) => results.api!.targets.find((r) => r.target === name)!;
    const [bare, api, stub] = [t("bare"), t("api"), t("stub")];
    rows.push({
      id: "intake",
      title: "Intake, POST /v1/jobs (throughput, p99)",
      measured:
        `API on DynamoDB Local ${api.rps.toFixed(0)} req/s, p99 ${api.p99Ms} ms (${api.rpsVsBare.toFixed(3)} of bare); ` +
        `store stubbed ${stub.rps.toFixed(0)} req/s, p99 ${stub.p99Ms} ms (${stub.rpsVsBare.toFixed(2)} of bare); ` +
        `bare Hono ${bare.rps.toFixed(0)} req/s, p99 ${bare.p99Ms} ms; one DynamoDB Local write alone p50 ${results.api.storeWriteMs.p50} ms`,
      goal: intakeGoal,
      met: null,
    });
  }

  // 5. Bundles.
  const bundlesGoal = "none set (compared with an empty handler)";
  if (!results.bundles) {
    rows.push(failed("bundles", "Handler bundles", bundlesGoal, "bundles"));
  } else {
    const b = results.bundles;
    rows.push({
      id: "bundles",
      title: "Handler bundle size and cold module init (over an empty handler)",
      measured:
        b.handlers
          .map(
            (h) =>
              `${h.name.replace(/\.ts$/, "")} ${(h.bytes / 1024).toFixed(0)} KiB +${h.initMsOverEmpty.toFixed(0)} ms`,
          )
          .join("; ") +
        `; empty handler ${(b.empty.bytes / 1024).toFixed(1)} KiB, ${b.empty.initMsMedian.toFixed(0)} ms (median of ${b.runs})`,
      goal: bundlesGoal,
      met: null,
    });
  }

  // 6. Money.
  const billedGoal = "≤ 1.03 on a 30-minute job";
  const destroyGoal = "≤ 30 s p95 (deployed 60 s poll)";
  if (!orchestration || !group60) {
    rows.push(failed("money-billed", "Billed ÷ ideal", billedGoal, "orchestration"));
    rows.push(failed("money-destroy", "Finish → destroyed", destroyGoal, "orchestration"));
  } else {
    const minutes = orchestration.options.trainingSeconds / 60;
    const g = group60;
    rows.push({
      id: "money-billed",
      title: `Money: billed ÷ ideal, ${minutes}-minute simulated job, poller every ${g.pollSeconds} s and the completion follow-up`,
      measured:
        `p50 ${g.billedOverIdeal.p50.toFixed(3)}, p95 ${g.billedOverIdeal.p95.toFixed(3)} over ${g.ok} jobs ` +
        `(ideal = training time × the instance's $/h; the job's recorded cost ÷ billed p50 ${g.costOverBilled.p50.toFixed(3)})` +
        (faster
          ? `; with the poller every ${faster.pollSeconds} s: p50 ${faster.billedOverIdeal.p50.toFixed(3)}, p95 ${faster.billedOverIdeal.p95.toFixed(3)}`
          : ""),
      goal: billedGoal,
      met: g.billedOverIdeal.p95 <= 1.03,
    });
    const reaper = results.reaper;
    rows.push({
      id: "money-destroy",
      title: "Money: seconds from the run's finish to the instance destroyed",
      measured:
        `poller every ${g.pollSeconds} s and the completion follow-up (simulated): p50 ${g.finishToDestroySeconds.p50.toFixed(1)} s, p95 ${g.finishToDestroySeconds.p95.toFixed(1)} s` +
        (faster
          ? `; poller every ${faster.pollSeconds} s: p50 ${faster.finishToDestroySeconds.p50.toFixed(1)} s, p95 ${faster.finishToDestroySeconds.p95.toFixed(1)} s`
          : "") +
        (reaper
          ? `; real time, poller alone every ${reaper.options.intervalSeconds} s (${reaper.options.jobs} jobs): p50 ${reaper.finishToDestroySeconds.p50.toFixed(1)} s, p95 ${reaper.finishToDestroySeconds.p95.toFixed(1)} s`
          : errors.reaper
            ? "; real-time cross-check failed"
            : ""),
      goal: destroyGoal,
      met: g.pollSeconds === 60 ? g.finishToDestroySeconds.p95 <= 30 : null,
    });
  }
  // A benchmark that ran but went wrong (a job failed, a request refused): its rows say so.
  for (const row of rows) {
    const error = errors[ROW_SOURCE[row.id]];
    if (error && !row.error) row.error = firstLine(error);
  }
  return rows;
}

/** The benchmark each row comes from. */
const ROW_SOURCE: Record<RowId, BenchmarkName> = {
  "push-small": "push",
  "push-large": "push",
  overhead: "orchestration",
  poller: "poller",
  intake: "api",
  bundles: "bundles",
  "money-billed": "orchestration",
  "money-destroy": "orchestration",
};

function firstLine(text: string | undefined): string {
  return (text ?? "").split("\n")[0] ?? "";
}

// ---------- the report ----------

const MODE_NOTE: Record<BenchMode, string> = {
  full: "full sizes (the issue's)",
  quick: "`--quick`: every size shrunk; figures indicative only",
  tiny: "`--tiny`: smoke-test sizes; figures mean nothing",
};

export function summaryTable(rows: readonly ReportRow[]): string {
  const met = (r: ReportRow) => (r.error ? "failed" : r.met === null ? "—" : r.met ? "yes" : "**no**");
  return [
    "| # | Row | Measured | Goal | Met |",
    "| --- | --- | --- | --- | --- |",
    ...rows.map((r, i) => `| ${i + 1} | ${r.title} | ${r.measured} | ${r.goal} | ${met(r)} |`),
  ].join("\n");
}

export function formatReport(report: BenchReport): string {
  const r = report.results;
  const sections: string[] = [];
  const section = (title: string, body: string | undefined, error: string | undefined) => {
    if (body === undefined && error === undefined) return;
    sections.push(`### ${title}`, "");
    if (error) sections.push(`Failed:\n\n\`\`\`\n${error}\n\`\`\``, "");
    if (body) sections.push(body, "");
  };
  section("Dataset push (test/bench/push.ts)", r.push && formatPushBenchmark(r.push), report.errors.push);
  section(
    "Orchestration overhead and money (test/bench/orchestration.ts)",
    r.orchestration && formatOrchestration(r.orchestration),
    report.errors.orchestration,
  );
  section(
    "Poller scale (test/bench/poller-scale.ts)",
    r.poller && formatPollerScale(r.poller),
    report.errors.poller,
  );
  section("Intake (test/bench/api.ts)", r.api && formatApiBenchmark(r.api), report.errors.api);
  section(
    "Handler bundles (test/bench/handler-bundles.ts)",
    r.bundles && formatHandlerBundles(r.bundles),
    report.errors.bundles,
  );
  section(
    "Finish → destroyed in real time, and orphans (test/bench/reaper.ts)",
    r.reaper && formatReaperBenchmark(r.reaper),
    report.errors.reaper,
  );
  return [
    "# Benchmark results",
    "",
    `Mode: ${MODE_NOTE[report.mode]}. Wall time ${report.wallSeconds} s. Generated by \`npm run bench\` (test/bench/run.ts).`,
    "",
    ...formatMachine(report.machine),
    `- Load average at end (1/5/15 min): ${report.loadAverageAtEnd.join(" / ")}`,
    "",
    "## Summary",
    "",
    summaryTable(report.rows),
    "",
    "## Details",
    "",
    ...sections,
  ].join("\n");
}

export async function writeReport(report: BenchReport, out: string): Promise<{ md: string; json: string }> {
  await mkdir(out, { recursive: true });
  const md = join(out, "bench-results.md");
  const json = join(out, "bench-results.json");
  await writeFile(md, `${formatReport(report)}\n`);
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  return { md, json };
}

/** The CLI: parses `argv`, runs, writes the report, prints the summary; returns the exit code. */
export async function main(
  argv: readonly string[],
  log: BenchLog = stderrLog,
  print: (text: string) => void = console.log,
): Promise<number> {
  const flags = new Flags(argv, { values: ["out", "only", "data-dir"], switches: ["quick", "tiny"] });
  if (flags.has("quick") && flags.has("tiny")) throw new Error("--quick and --tiny exclude each other");
  const only = (flags.string("only")?.split(",") ?? [...BENCHMARKS]) as BenchmarkName[];
  for (const name of only)
    if (!(BENCHMARKS as readonly string[]).includes(name))
      throw new Error(`unknown benchmark ${name} (known: ${BENCHMARKS.join(", ")})`);
  const report = await runBenchmarks({
    mode: flags.has("tiny") ? "tiny" : flags.has("quick") ? "quick" : "full",
    out: flags.string("out") ?? repoRoot,
    only,
    ...(flags.has("data-dir") ? { dataDir: flags.string("data-dir") } : {}),
    log,
  });
  const { md, json } = await writeReport(report, flags.string("out") ?? repoRoot);
  print(summaryTable(report.rows));
  log(`wrote ${md} and ${json}`);
  return Object.keys(report.errors).length > 0 ? 1 : 0;
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
