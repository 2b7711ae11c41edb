/**
 * The chaos run, small, inside `npm test`: ten jobs through the local stack with the simulator's
 * random faults, function processes crashing between side effects and being killed (for the first
 * 40 s), messages delivered twice, overlapping pollers and random cancels (run.ts), then every
 * invariant of invariants.ts. `CHAOS_VERBOSE=1` prints progress and the table when it passes too. The seed is `CHAOS_SEED` (default 12); a failure names the command that replays it
 * with the same choices. `npm run chaos` is the full run (200 jobs).
 */
import { describe, expect, it } from "vitest";
import { formatReport } from "./report";
import { DEFAULT_FAULTS, runChaos } from "./run";

const SEED = Number(process.env.CHAOS_SEED ?? 12);
const JOBS = 10;
/** `CHAOS_VERBOSE=1`: progress lines and the report's table even when the run passes. */
const VERBOSE = process.env.CHAOS_VERBOSE === "1";

describe("chaos", () => {
  it(`${JOBS} jobs under faults, crashes, duplicate deliveries and cancels end with every invariant holding (seed ${SEED})`, async () => {
    const { report, violations, workDir } = await runChaos({
      jobs: JOBS,
      seed: SEED,
      maxActiveJobs: JOBS,
      trainingSeconds: 5,
      // A minute of the deployment is 3 s: a killed push's lease lapses in 48 s, not 96 s.
      divisor: 20,
      bootTimeoutMinutes: 1,
      // Every fault kind but stuck boots (a minute each at the request's shortest boot timeout; the
      // default run has them).
      faults: { ...DEFAULT_FAULTS, stuckLoading: 0 },
      // Crashes and kills as often as the default run's, and more kills, but only for the first
      // 40 s of jobs; then the run watches the system recover from them. The last kill's lease
      // lapse (a push: 48 s) bounds the tail, so the run ends in its time even on a loaded machine.
      crashProbability: 0.03,
      killMeanSeconds: 15,
      faultWindowSeconds: 40,
      // The jobs, then the pollers' settling and the checks, inside the test's three minutes.
      timeoutMs: 155_000,
      progress: VERBOSE ? (line) => console.log(`chaos: ${line}`) : undefined,
    });
    if (VERBOSE) console.log(formatReport(report));
    const replay = `CHAOS_SEED=${SEED} npx vitest run test/chaos/chaos.test.ts`;
    expect(
      violations,
      `${formatReport(report)}\n\nreplay: ${replay}${workDir ? `\nlogs: ${workDir}` : ""}`,
    ).toEqual([]);
    expect(report.outcomes.succeeded).toBeGreaterThan(0);
    // The chaos happened: the simulator injected faults, and the harness crashed and duplicated.
    expect(Object.keys(report.faults.simulator).length).toBeGreaterThan(3);
    expect(report.faults.duplicateDeliveries).toBeGreaterThan(0);
    expect(report.faults.crashes + report.faults.kills).toBeGreaterThan(0);
  }, 180_000);
});
