/**
 * The chaos run, small, inside `npm test`: a dozen jobs through the local stack with the
 * simulator's random faults, function processes crashing between side effects and being killed,
 * messages delivered twice, overlapping pollers and random cancels (run.ts), then every invariant
 * of invariants.ts. The seed is `CHAOS_SEED` (default 12); a failure names the command that replays
 * it with the same choices. `npm run chaos` is the full run (200 jobs).
 */
import { describe, expect, it } from "vitest";
import { formatReport } from "./report";
import { runChaos } from "./run";

const SEED = Number(process.env.CHAOS_SEED ?? 12);
const JOBS = 12;

describe("chaos", () => {
  it(`${JOBS} jobs under faults, crashes, duplicate deliveries and cancels end with every invariant holding (seed ${SEED})`, async () => {
    const { report, violations, workDir } = await runChaos({
      jobs: JOBS,
      seed: SEED,
      maxActiveJobs: JOBS,
      trainingSeconds: 5,
      bootTimeoutMinutes: 1,
      killMeanSeconds: 20,
      timeoutMs: 150_000,
    });
    const replay = `CHAOS_SEED=${SEED} npx vitest run test/chaos/chaos.test.ts (or npm run chaos -- --jobs ${JOBS} --seed ${SEED})`;
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
