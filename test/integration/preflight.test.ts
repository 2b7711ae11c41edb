/**
 * The pre-flight host check in the job flow, against the simulator: for each way a host can fail
 * the check (a `host_profile` fault on the first instance rented), that instance is destroyed and
 * its bill closed, the attempt is charged as the ledger says, the machine is remembered as a bad
 * host with the reason, the next offer is rented on another machine, and the job still trains and
 * succeeds — its timeline naming the condition that failed. Real handlers throughout: provision and
 * readiness fed by fauxqs, DynamoDB Local, the simulator's SSH per instance, push and completion.
 */
import { describe, expect, it } from "vitest";
import { checkJobTraining } from "../../packages/core/src/jobs";
import type { PreflightCondition } from "../../packages/core/src/preflight";
import type { HostProfileInput } from "../../packages/vast-sim/src/index";
import { expectInvariantsHold, useScenarios } from "../support/provision-harness";
import { startPushScenario, untilJob, untilTrainingExited } from "../support/push-harness";
import { statesVisited } from "../support/timeline";

const scenarios = useScenarios(startPushScenario);

const CASES: { condition: PreflightCondition; profile: HostProfileInput; seed: number }[] = [
  { condition: "gpu_missing", profile: { nvidiaSmi: "missing" }, seed: 201 },
  { condition: "gpu_model_mismatch", profile: { gpuName: "RTX 3090" }, seed: 202 },
  { condition: "gpu_count", profile: { gpuCount: 2 }, seed: 203 },
  { condition: "vram_insufficient", profile: { gpuRamMb: 16_376 }, seed: 204 },
  { condition: "gpu_busy", profile: { busyGpus: [0] }, seed: 205 },
  { condition: "driver_too_old", profile: { driverVersion: "550.127.05" }, seed: 206 },
  { condition: "disk_insufficient", profile: { diskFreeBytes: 20e9 }, seed: 213 },
  { condition: "torch_cuda_unavailable", profile: { torch: "cpu" }, seed: 218 },
  { condition: "ai_toolkit_missing", profile: { aiToolkit: false }, seed: 209 },
  { condition: "report_unparseable", profile: { nvidiaSmi: "unknown_error" }, seed: 210 },
];

describe("a host failing the pre-flight check", () => {
  it.each(CASES)(
    "$condition: destroyed and remembered, the next offer rented, the job succeeds",
    async ({ condition, profile, seed }) => {
      const s = await scenarios.start({ seed });
      const { sim } = s.base;
      await sim.admin.addFault({ kind: "host_profile", profile });

      const { jobId, instanceId } = await s.jobToPushing({}, { durationSeconds: 0.2 });
      const [first, second] = await s.store.listAttempts(jobId);
      if (!first?.instanceId || !second) throw new Error("expected two attempts");
      expect(second).toMatchObject({ attempt: 2, instanceId, outcome: "ready" });
      expect(second.machineId).not.toBe(first.machineId);

      // The failing host: destroyed, its bill closed, the attempt charged what the ledger says.
      const destroyed = sim.admin.instance(first.instanceId);
      expect(destroyed?.destroyedAtMs).toEqual(expect.any(Number));
      expect(first).toMatchObject({ outcome: "failed", destroyedAt: expect.any(Number) });
      expect(first.failureReason).toMatch(new RegExp(`^pre-flight check failed: ${condition} \\(`));
      const billed = () => sim.admin.ledger().instances.find((l) => l.instanceId === first.instanceId);
      const bill = billed();
      sim.admin.advance(600);
      expect(billed()).toEqual(bill);
      expect(first.costUsd).toBeGreaterThan(0);
      expect(first.costUsd).toBeCloseTo((bill?.totalMicros ?? 0) / 1e6, 5);

      // Remembered as a bad host, with the reason.
      const failures = await s.store.recentHostFailures(first.machineId as number, 0);
      expect(failures).toEqual([expect.objectContaining({ jobId, attempt: 1, reason: first.failureReason })]);

      // The timeline says what failed, and what the host that passed has.
      const timeline = await s.store.getTimeline(jobId);
      const diagnostics = timeline.find((t) => t.kind === "diagnostics");
      expect(diagnostics?.details).toMatchObject({
        attempt: 1,
        machineId: first.machineId,
        preflight: {
          passed: false,
          failures: expect.arrayContaining([expect.objectContaining({ condition })]),
        },
      });
      const ready = timeline.find((t) => t.kind === "transition" && t.to === "pushing");
      expect(ready?.details).toMatchObject({ attempt: 2, preflight: { passed: true } });

      // The second host trains the job to the end.
      expect(await s.pumpPush()).toEqual({ received: 1, failed: 0 });
      await untilTrainingExited(s, instanceId, jobId);
      const job = await untilJob(
        s.store,
        jobId,
        () => checkJobTraining(s.deps, jobId),
        (j) => j.state === "succeeded",
      );
      expect(job.spentUsd).toBeGreaterThan(first.costUsd ?? 0);
      expect(await statesVisited(s.store, jobId)).toEqual([
        "queued",
        "provisioning",
        "booting",
        "provisioning",
        "booting",
        "pushing",
        "training",
        "collecting",
        "succeeded",
      ]);
      const retried = timeline.find((t) => t.kind === "transition" && t.event === "attempt_failed");
      expect(retried?.reason).toContain(`attempt 1 abandoned: pre-flight check failed: ${condition}`);
      await expectInvariantsHold(s.base);
    },
    // Two rentals, a push and a collected run per case.
    60_000,
  );

  it("duplicate deliveries and a crash before the destroy: one destroy, one charge, one host failure", async () => {
    let crashes = 1;
    const s = await scenarios.start({
      seed: 212,
      duplicateSends: true,
      wrapVast: (vast) => ({
        ...vast,
        terminateInstance: async (id) => {
          if (crashes-- > 0) throw new Error("simulated crash before the destroy");
          return vast.terminateInstance(id);
        },
      }),
    });
    await s.base.sim.admin.addFault({ kind: "host_profile", profile: { driverVersion: "535.104.05" } });
    const jobId = await s.base.submit();
    await s.base.run(jobId, (j) => j.state === "pushing", {
      handlers: [s.base.handler, s.base.newHandler()],
    });
    expect(crashes).toBeLessThan(0);
    const [first, second] = await s.store.listAttempts(jobId);
    expect(first).toMatchObject({
      outcome: "failed",
      failureReason: expect.stringMatching(/driver_too_old/),
    });
    expect(second).toMatchObject({ outcome: "ready" });
    expect(s.base.sim.admin.instance(first?.instanceId as number)?.destroyedAtMs).toEqual(expect.any(Number));
    expect(await s.store.recentHostFailures(first?.machineId as number, 0)).toHaveLength(1);
    const job = await s.store.getJob(jobId);
    expect(job?.spentUsd).toBeCloseTo(first?.costUsd ?? Number.NaN, 9);
    const endings = (await s.store.getTimeline(jobId)).filter((t) => t.reason.startsWith("attempt 1 ended"));
    expect(endings).toHaveLength(1);
    await expectInvariantsHold(s.base);
  });

  it("a machine that fails the check on every rental is not rented again for the job", async () => {
    const s = await scenarios.start({ seed: 211 });
    const { sim } = s.base;
    // Every machine with a 4090 is busy but one: the job must find that one, renting no machine twice.
    const machines = new Set(
      sim.admin
        .offers()
        .filter((o) => o.gpu_name === "RTX 4090")
        .map((o) => o.machine_id),
    );
    for (const machineId of machines) {
      await sim.admin.addFault({ kind: "host_profile", machineId, profile: { busyGpus: [0] } });
    }
    const jobId = await s.base.submit({ maxAttempts: 2 });
    const job = await s.base.run(jobId, (j) => j.state === "failed");
    expect(job.reason).toMatch(/^Gave up after 2 rented GPUs failed \(limit 2\)/);
    expect(job.reason).toContain("pre-flight check failed: gpu_busy");
    const rented = sim.admin.instances().map((i) => i.machineId);
    expect(new Set(rented).size).toBe(rented.length);
    expect(sim.admin.instances().every((i) => i.destroyedAtMs !== null)).toBe(true);
    await expectInvariantsHold(s.base);
  });
});
