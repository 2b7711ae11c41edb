/**
 * Vast's failures during provisioning, injected in the simulator: an offer vanishing between
 * search and rent, an instance stuck in loading, an OCI runtime failure, a create that answers
 * an error although it rented. Each ends with the money invariants.
 */
import { describe, expect, it } from "vitest";
import { expectInvariantsHold, startScenario, useScenarios } from "../support/provision-harness";

const scenarios = useScenarios(startScenario);

describe("provision handler under Vast faults", () => {
  it("an offer vanishing between search and rent: the next offer is rented, nothing else", async () => {
    const s = await scenarios.start({ seed: 5 });
    await s.sim.admin.addFault({ kind: "offer_vanish", times: 1 });
    const jobId = await s.submit();
    await s.run(jobId, (j) => j.state === "pushing");

    const attempts = await s.store.listAttempts(jobId);
    expect(attempts.map((a) => a.outcome)).toEqual(["not_rented", "ready"]);
    expect(attempts[0]?.failureReason).toBe("the offer was taken before we could rent it");
    expect(attempts[1]?.offerId).not.toBe(attempts[0]?.offerId);
    expect(s.sim.admin.instances()).toHaveLength(1);
    expect(s.pushMessages()).toEqual([{ type: "push", jobId, attempt: 2 }]);
    await expectInvariantsHold(s);
  });

  it("stuck in loading: boot timeout → diagnostics → destroyed → another host", async () => {
    // A seed whose market has two CUDA 13 hosts for the job: one to get stuck, one to move to.
    const s = await scenarios.start({ seed: 9 });
    await s.sim.admin.addFault({ kind: "stuck_loading" });
    const jobId = await s.submit({ bootTimeoutMinutes: 2 });
    const job = await s.run(jobId, (j) => j.state === "pushing", { advanceSeconds: 10, maxRounds: 80 });

    const [first, second] = s.sim.admin.instances();
    expect(first?.destroyedAtMs).not.toBeNull();
    expect(first?.history.map((h) => h.actual_status)).not.toContain("running");
    expect(second?.destroyedAtMs).toBeNull();
    expect(second?.machineId).not.toBe(first?.machineId);
    // Destroyed no earlier than the timeout, and before the second rental.
    expect((first?.destroyedAtMs ?? 0) - (first?.createdAtMs ?? 0)).toBeGreaterThanOrEqual(120_000);
    expect(second?.createdAtMs).toBeGreaterThanOrEqual(first?.destroyedAtMs ?? Number.POSITIVE_INFINITY);

    const attempt1 = await s.store.getAttempt(jobId, 1);
    expect(attempt1?.outcome).toBe("failed");
    expect(attempt1?.failureReason).toMatch(/^did not become ready within 2 min \(last state 'loading'/);
    expect(attempt1?.costUsd).toBeGreaterThan(0);
    expect(job.spentUsd).toBeCloseTo(attempt1?.costUsd ?? -1, 9);
    const diagnostics = (await s.store.getTimeline(jobId)).filter((t) => t.kind === "diagnostics");
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]?.details).toMatchObject({ instanceId: first?.id, state: "loading" });
    expect(typeof diagnostics[0]?.details.logTail).toBe("string");
    expect(await s.store.recentHostFailures(first?.machineId ?? -1, 0)).toHaveLength(1);
    await expectInvariantsHold(s);
  });

  it("an OCI runtime failure is fatal at once; after the last attempt the job fails with a clear reason", async () => {
    const s = await scenarios.start({ seed: 7 });
    await s.sim.admin.addFault({ kind: "fatal", status: "created" });
    const jobId = await s.submit({ maxAttempts: 2 });
    await s.run(jobId, (j) => j.state === "booting" && j.attempt === 2, { maxRounds: 40 });
    const second = (await s.store.getAttempt(jobId, 2))?.instanceId ?? -1;
    await s.sim.admin.addFault({ kind: "fatal", status: "created", instanceId: second });
    const job = await s.run(jobId, (j) => j.state === "failed", { maxRounds: 40 });

    expect(job.reason).toMatch(/^Gave up after 2 rented GPUs failed \(limit 2\)/);
    expect(job.reason).toContain("the instance failed to start: Error response from daemon");
    expect(job.reason).toContain("OCI runtime create failed");
    const instances = s.sim.admin.instances();
    expect(instances).toHaveLength(2);
    for (const inst of instances) expect(inst.destroyedAtMs).not.toBeNull();
    const diagnostics = (await s.store.getTimeline(jobId)).filter((t) => t.kind === "diagnostics");
    expect(diagnostics.map((d) => d.details.statusMessage)).toEqual([
      expect.stringContaining("OCI runtime create failed"),
      expect.stringContaining("OCI runtime create failed"),
    ]);
    expect(new Set(instances.map((i) => i.machineId)).size).toBe(2);
    expect(s.pushMessages()).toEqual([]);
    const report = await expectInvariantsHold(s);
    expect(report.alive).toBe(0);
  });

  it("a create that errors but rents: adopted by label, no second rental, nothing leaked", async () => {
    const s = await scenarios.start({ seed: 8 });
    await s.sim.admin.addFault({ kind: "create_error_after_create", status: 500 });
    const jobId = await s.submit();
    await s.run(jobId, (j) => j.state === "pushing");

    const instances = s.sim.admin.instances();
    expect(instances).toHaveLength(1);
    const attempt = await s.store.getAttempt(jobId, 1);
    expect(attempt).toMatchObject({ outcome: "ready", instanceId: instances[0]?.id });
    expect(await s.store.findJobByInstanceId(instances[0]?.id ?? -1)).toMatchObject({ jobId, attempt: 1 });
    await expectInvariantsHold(s);
  });
});
