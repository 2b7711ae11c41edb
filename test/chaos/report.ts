/**
 * What a chaos run reports: jobs by outcome, faults by kind (the simulator's counts, and the
 * crashes, kills and duplicate deliveries the harness made), dollars billed against the ideal
 * (training time × the instance's hourly price, for the jobs that succeeded), leaked instance-seconds,
 * seconds from a run's end (its exit code on the instance) to its instance's destroy, and every
 * violated invariant. Printed as a table, written as JSON.
 */
import type { InjectedFaultKind } from "@vast-rental/vast-sim";
import type { FunctionProcessEvent } from "./function-process";
import { type ChaosSnapshot, type InvariantResult, STAMP_SLACK_SECONDS } from "./invariants";
import type { ProcessExit } from "./supervisor";

export interface ChaosReport {
  seed: number;
  jobs: number;
  /** Time compression of the deployment. */
  divisor: number;
  trainingSeconds: number;
  /** The harness's crashes and kills stopped this long after the processes were up; null: never. */
  faultWindowSeconds: number | null;
  /** From the start to the last job's end, seconds. */
  wallSeconds: number;
  outcomes: { succeeded: number; failed: number; cancelled: number; unfinished: number };
  /** Failed jobs by the start of their reason. */
  failureReasons: Record<string, number>;
  faults: {
    /** Injected by the simulator, by kind. */
    simulator: Partial<Record<InjectedFaultKind, number>>;
    /** Function processes that killed themselves between two side effects. */
    crashes: number;
    /** Where those crashes happened (before/after which call), most frequent first. */
    crashPoints: Record<string, number>;
    /** Invocations past their function's timeout (the process is killed, as Lambda does). */
    timeouts: number;
    /** SIGKILLs sent by the supervisor at random moments. */
    kills: number;
    /** Function processes started, restarts included. */
    processStarts: number;
    /** Seconds from a fork to the process taking work (p50, max): how long a restart leaves a slot empty. */
    startSeconds: { p50: number; max: number };
    /** Queue messages delivered a second time. */
    duplicateDeliveries: number;
    /** Jobs submitted twice (a retried webhook, an event sent twice). */
    duplicateSubmissions: number;
    /** Cancels sent at random moments. */
    cancels: number;
    /** What they got back: `200`, `409` (already ended), a 5xx after five tries (the ending is left to the reaper), `event`. */
    cancelAnswers: Record<string, number>;
  };
  money: {
    /** Everything the simulator billed, every job. */
    billedUsd: number;
    /** Billed for the jobs that succeeded (their failed attempts included). */
    billedSucceededUsd: number;
    /** Training seconds × hourly price of the instance that trained, for the jobs that succeeded. */
    idealUsd: number;
    /** billedSucceededUsd ÷ idealUsd. */
    billedOverIdeal: number;
    /** GPU charged on purpose for time a host had stopped an instance (outbid) or taken it offline. */
    hostStoppedUsd: number;
    /** Largest difference between a job's cost and what the simulator billed for it (host-stopped time counted). */
    worstCostError: number;
    /** Jobs whose cost is within 2 % of the ledger (the rest are within the stamp slack, or a violation). */
    within2Percent: number;
  };
  leakedInstanceSeconds: number;
  /** Strays: instances whose create completed after their attempt ended, charged and destroyed. */
  strayInstanceSeconds: { count: number; total: number; max: number; limit: number };
  instances: number;
  finishToDestroySeconds: { p50: number; p95: number; max: number; count: number };
  /** Seconds from the simulator's destroy to the job's record of it (the stamp slack the cost check allows for). */
  destroySkewSeconds: { p50: number; p95: number; max: number };
  /**
   * The jobs that took longest from creation to their end, slowest first (three), each with its
   * longest quiet spell: the seconds between two timeline entries and the entry that ended it. What
   * a chain of recoveries waited on (a lease lapsing, a visibility timeout, a boot deadline).
   */
  slowestJobs: {
    jobId: string;
    state: string;
    seconds: number;
    longestWait: { seconds: number; before: string };
  }[];
  vastCalls: number;
  /** Messages left in the dead-letter queues. */
  deadLetters: Record<string, number>;
  violations: string[];
}

export interface ReportInput {
  options: {
    jobs: number;
    seed: number;
    divisor: number;
    trainingSeconds: number;
    faultWindowSeconds: number | null;
  };
  snapshot: ChaosSnapshot;
  verdict: InvariantResult;
  events: FunctionProcessEvent[];
  exits: readonly ProcessExit[];
  starts: number;
  /** Instance id → when its run wrote its exit code (ms). */
  finishedAt: Map<number, number>;
  faults: Partial<Record<InjectedFaultKind, number>>;
  vastCalls: number;
  deadLetters: Record<string, number>;
  harness: { duplicateSubmissions: number; cancelsSent: number; cancelAnswers: Record<string, number> };
  wallSeconds: number;
  violations: string[];
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const countBy = (keys: string[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const key of keys) out[key] = (out[key] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
};

export function makeReport(input: ReportInput): ChaosReport {
  const { snapshot, verdict } = input;
  const jobs = snapshot.jobs.map((s) => s.job);
  const byId = new Map(snapshot.instances.map((i) => [i.id, i]));
  const outcome = (state: string) => jobs.filter((j) => j.state === state).length;
  const succeeded = snapshot.jobs.filter((s) => s.job.state === "succeeded");
  const trainedOn = succeeded.map(
    (s) => s.attempts.find((a) => a.outcome === "succeeded")?.instanceId ?? null,
  );
  const idealUsd = trainedOn.reduce<number>((sum, id) => {
    const ledger = id === null ? undefined : byId.get(id)?.ledger;
    return sum + (ledger ? ((ledger.gpuDph + ledger.storageDph) * input.options.trainingSeconds) / 3600 : 0);
  }, 0);
  const succeededIds = new Set(succeeded.map((s) => s.job.jobId));
  const billed = (filter: (jobId: string) => boolean) =>
    verdict.costs.filter((c) => filter(c.jobId)).reduce((sum, c) => sum + c.ledgerUsd, 0);
  const finishToDestroy = trainedOn.flatMap((id) => {
    const finished = id === null ? undefined : input.finishedAt.get(id);
    const destroyed = id === null ? null : (byId.get(id)?.destroyedAtMs ?? null);
    return finished !== undefined && destroyed !== null ? [(destroyed - finished) / 1000] : [];
  });
  const crashes = input.events.filter((e) => e.kind === "crash");
  const relError = (c: InvariantResult["costs"][number]) =>
    c.ledgerUsd + c.hostStoppedUsd > 0
      ? Math.abs(c.costUsd - c.ledgerUsd - c.hostStoppedUsd) / (c.ledgerUsd + c.hostStoppedUsd)
      : c.costUsd > 0
        ? Number.POSITIVE_INFINITY
        : 0;
  const totalBilled = snapshot.instances.reduce((sum, i) => sum + i.ledger.totalMicros / 1e6, 0);
  const startSeconds = input.events.flatMap((e) =>
    e.kind === "started" ? [(e.at - e.forkedAt) / 1000] : [],
  );
  return {
    seed: input.options.seed,
    jobs: input.options.jobs,
    divisor: input.options.divisor,
    trainingSeconds: input.options.trainingSeconds,
    faultWindowSeconds: input.options.faultWindowSeconds,
    wallSeconds: input.wallSeconds,
    outcomes: {
      succeeded: outcome("succeeded"),
      failed: outcome("failed"),
      cancelled: outcome("cancelled"),
      unfinished: input.options.jobs - outcome("succeeded") - outcome("failed") - outcome("cancelled"),
    },
    failureReasons: countBy(
      jobs
        .filter((j) => j.state === "failed")
        .map((j) => (j.reason ?? "").split(/[:(]/)[0]!.slice(0, 60).trim()),
    ),
    faults: {
      simulator: input.faults,
      crashes: crashes.length,
      crashPoints: countBy(crashes.map((c) => (c.kind === "crash" ? c.point : ""))),
      timeouts: input.events.filter((e) => e.kind === "timeout").length,
      kills: input.exits.filter((e) => e.cause === "killed").length,
      processStarts: input.starts,
      startSeconds: {
        p50: percentile(startSeconds, 50),
        max: startSeconds.length ? Math.max(...startSeconds) : Number.NaN,
      },
      duplicateDeliveries: input.events.filter((e) => e.kind === "duplicate").length,
      duplicateSubmissions: input.harness.duplicateSubmissions,
      cancels: input.harness.cancelsSent,
      cancelAnswers: input.harness.cancelAnswers,
    },
    money: {
      billedUsd: totalBilled,
      billedSucceededUsd: billed((id) => succeededIds.has(id)),
      idealUsd,
      billedOverIdeal: idealUsd > 0 ? billed((id) => succeededIds.has(id)) / idealUsd : Number.NaN,
      hostStoppedUsd: verdict.costs.reduce((sum, c) => sum + c.hostStoppedUsd, 0),
      worstCostError: Math.max(0, ...verdict.costs.filter((c) => c.ledgerUsd > 0).map(relError)),
      within2Percent: verdict.costs.filter((c) => relError(c) <= 0.02).length,
    },
    leakedInstanceSeconds: verdict.leakedInstanceSeconds,
    strayInstanceSeconds: {
      count: verdict.strays.length,
      total: verdict.strays.reduce((sum, x) => sum + x.seconds, 0),
      max: Math.max(0, ...verdict.strays.map((x) => x.seconds)),
      limit: snapshot.strayLimitSeconds,
    },
    instances: snapshot.instances.length,
    finishToDestroySeconds: {
      p50: percentile(finishToDestroy, 50),
      p95: percentile(finishToDestroy, 95),
      max: finishToDestroy.length ? Math.max(...finishToDestroy) : Number.NaN,
      count: finishToDestroy.length,
    },
    destroySkewSeconds: {
      p50: percentile(verdict.destroySkews, 50),
      p95: percentile(verdict.destroySkews, 95),
      max: verdict.destroySkews.length ? Math.max(...verdict.destroySkews) : Number.NaN,
    },
    slowestJobs: slowestJobs(snapshot),
    vastCalls: input.vastCalls,
    deadLetters: input.deadLetters,
    violations: input.violations,
  };
}

function slowestJobs(snapshot: ChaosSnapshot): ChaosReport["slowestJobs"] {
  return snapshot.jobs
    .filter((s) => s.job.endedAt !== null)
    .map((s) => {
      const at = [...s.timeline].sort((a, b) => a.at - b.at);
      let longestWait = { seconds: 0, before: "" };
      for (let i = 1; i < at.length; i++) {
        const gap = (at[i]!.at - at[i - 1]!.at) / 1000;
        if (gap > longestWait.seconds) {
          const entry = at[i]!;
          const what = entry.to ? `${entry.from ?? "?"} → ${entry.to}: ${entry.reason}` : entry.reason;
          longestWait = { seconds: gap, before: what.slice(0, 120) };
        }
      }
      return {
        jobId: s.job.jobId,
        state: s.job.state,
        seconds: (s.job.endedAt! - s.job.createdAt) / 1000,
        longestWait,
      };
    })
    .sort((a, b) => b.seconds - a.seconds)
    .slice(0, 3);
}

const usd = (x: number) => `$${x.toFixed(4)}`;
const sec = (x: number) => (Number.isFinite(x) ? `${x.toFixed(x < 10 ? 2 : 1)} s` : "n/a");

/** The report as the table `npm run chaos` prints. */
export function formatReport(r: ChaosReport): string {
  const rows: [string, string][] = [
    [
      "seed / jobs",
      `${r.seed} / ${r.jobs} (time ÷${r.divisor}, training ${r.trainingSeconds} s` +
        (r.faultWindowSeconds === null
          ? ")"
          : `, crashes and kills for the first ${r.faultWindowSeconds} s)`),
    ],
    ["wall time", sec(r.wallSeconds)],
    [
      "jobs by outcome",
      `succeeded ${r.outcomes.succeeded}, failed ${r.outcomes.failed}, cancelled ${r.outcomes.cancelled}` +
        (r.outcomes.unfinished ? `, UNFINISHED ${r.outcomes.unfinished}` : ""),
    ],
    ...Object.entries(r.failureReasons).map(([reason, n]): [string, string] => [
      "  failed:",
      `${n} × ${reason}`,
    ]),
    [
      "faults (simulator)",
      Object.entries(r.faults.simulator)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ") || "none",
    ],
    [
      "faults (harness)",
      `crashes between side effects ${r.faults.crashes}, timeouts ${r.faults.timeouts}, SIGKILLs ${r.faults.kills}, ` +
        `process starts ${r.faults.processStarts} (start p50 ${sec(r.faults.startSeconds.p50)}, max ${sec(r.faults.startSeconds.max)}), ` +
        `duplicate deliveries ${r.faults.duplicateDeliveries}, ` +
        `duplicate submissions ${r.faults.duplicateSubmissions}, cancels ${r.faults.cancels} (${Object.entries(
          r.faults.cancelAnswers,
        )
          .map(([k, n]) => `${k}: ${n}`)
          .join(", ")})`,
    ],
    [
      "  crash points",
      Object.entries(r.faults.crashPoints)
        .slice(0, 6)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ") || "none",
    ],
    [
      "billed vs ideal",
      `succeeded jobs ${usd(r.money.billedSucceededUsd)} vs ideal ${usd(r.money.idealUsd)} = ${r.money.billedOverIdeal.toFixed(2)} ×; all jobs ${usd(r.money.billedUsd)}`,
    ],
    [
      "worst job cost vs ledger",
      `${r.money.within2Percent} of ${r.jobs} jobs within 2 %, the rest within ${STAMP_SLACK_SECONDS} s of price; worst ${(r.money.worstCostError * 100).toFixed(1)} % ` +
        `(GPU charged while a host had stopped the instance: ${usd(r.money.hostStoppedUsd)})`,
    ],
    ["leaked instance-seconds", `${r.leakedInstanceSeconds.toFixed(1)} (${r.instances} instances in all)`],
    [
      "stray instances",
      `${r.strayInstanceSeconds.count}, alive ${r.strayInstanceSeconds.total.toFixed(1)} s after their attempt in all, max ${r.strayInstanceSeconds.max.toFixed(1)} s (limit ${r.strayInstanceSeconds.limit} s)`,
    ],
    [
      "finish → destroy",
      `p50 ${sec(r.finishToDestroySeconds.p50)}, p95 ${sec(r.finishToDestroySeconds.p95)}, max ${sec(r.finishToDestroySeconds.max)} (${r.finishToDestroySeconds.count} runs)`,
    ],
    [
      "destroy stamp skew",
      `p50 ${sec(r.destroySkewSeconds.p50)}, p95 ${sec(r.destroySkewSeconds.p95)}, max ${sec(r.destroySkewSeconds.max)} (Vast's destroy → the job's record)`,
    ],
    ...r.slowestJobs.map((j, i): [string, string] => [
      i === 0 ? "slowest jobs" : "",
      `${j.jobId} ${j.state} in ${sec(j.seconds)}; longest wait ${sec(j.longestWait.seconds)}, ended by: ${j.longestWait.before}`,
    ]),
    ["Vast calls", String(r.vastCalls)],
    [
      "dead letters",
      Object.entries(r.deadLetters)
        .map(([k, n]) => `${k} ${n}`)
        .join(", "),
    ],
    ["invariants", r.violations.length === 0 ? "all hold" : `${r.violations.length} VIOLATED`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  for (const v of r.violations.slice(0, 40)) lines.push(`  ✗ ${v}`);
  if (r.violations.length > 40) lines.push(`  … and ${r.violations.length - 40} more (see the JSON)`);
  return lines.join("\n");
}
