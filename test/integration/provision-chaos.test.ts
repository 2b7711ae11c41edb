/**
 * Several jobs at once under a seeded mix of Vast faults (5xx and 429 answers, offers vanishing,
 * creates that error but rent, instances stuck loading or failing) with every message delivered
 * twice: every job still ends ready for push or failed with a reason, and no money leaks.
 */
import { describe, expect, it } from "vitest";
import { isTerminal } from "../../packages/core/src/jobs/state-machine";
import { expectInvariantsHold, startScenario, useScenarios } from "../support/provision-harness";

const scenarios = useScenarios(startScenario);

describe("provisioning under a seeded fault mix", () => {
  it.each([101, 202, 4])("seed %i: every job ends up ready or failed, and nothing leaks", async (seed) => {
    const s = await scenarios.start({
      seed,
      duplicateSends: true,
      sim: {
        faults: {
          seed,
          http5xx: 0.05,
          rateLimit: 0.05,
          offerVanish: 0.2,
          createErrorAfterCreate: 0.2,
          stuckLoading: 0.15,
          fatal: 0.15,
        },
      },
    });
    const jobIds: string[] = [];
    for (let i = 0; i < 4; i++)
      jobIds.push(await s.submit({ region: undefined, bootTimeoutMinutes: 2, maxAttempts: 3 }));
    const consumers = [s.newHandler(), s.newHandler()];

    const settled = async () => {
      const jobs = await Promise.all(jobIds.map((id) => s.store.getJob(id)));
      return jobs.every((j) => j && (j.state === "pushing" || isTerminal(j.state)));
    };
    for (let round = 0; round < 150 && !(await settled()); round++) {
      await s.pump(consumers);
      s.sim.admin.advance(10);
    }
    // Let the duplicates still queued run out.
    for (let i = 0; i < 10; i++) {
      await s.pump(consumers);
      s.sim.admin.advance(10);
    }

    const jobs = await Promise.all(jobIds.map((id) => s.store.getJob(id)));
    for (const job of jobs) {
      expect(["pushing", "failed"]).toContain(job?.state);
      if (job?.state === "failed") expect(job.reason?.length).toBeGreaterThan(30);
    }
    expect(jobs.some((j) => j?.state === "pushing")).toBe(true);
    const report = await expectInvariantsHold(s);
    expect(report.alive).toBe(jobs.filter((j) => j?.state === "pushing").length);
    // Faults really happened: more instances or attempts than jobs.
    const attempts = (await Promise.all(jobIds.map((id) => s.store.listAttempts(id)))).flat();
    expect(attempts.length).toBeGreaterThan(jobIds.length);
  });
});
