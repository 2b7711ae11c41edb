/**
 * The provision handler end to end: functions/provision.ts fed by fauxqs, state in DynamoDB
 * Local, GPUs rented from the simulator (real HTTP, real SSH per instance). Every scenario ends
 * with the money invariants checked against the simulator's list of every instance ever created.
 */
import { describe, expect, it } from "vitest";
import { expectInvariantsHold, startScenario, useScenarios } from "../support/provision-harness";
import { statesVisited } from "../support/timeline";

const scenarios = useScenarios(startScenario);

describe("provision handler (happy path)", () => {
  it("rents one GPU, waits for it to boot, probes SSH, pins the host key and hands over to push", async () => {
    const s = await scenarios.start({ seed: 3 });
    const jobId = await s.submit();
    const job = await s.run(jobId, (j) => j.state === "pushing");

    expect(job.attempt).toBe(1);
    const attempt = await s.store.getAttempt(jobId, 1);
    expect(attempt).toMatchObject({ outcome: "ready", label: `vast-rental:${jobId}:1` });
    const instances = s.sim.admin.instances();
    expect(instances).toHaveLength(1);
    const rented = instances[0]!;
    expect(attempt?.instanceId).toBe(rented.id);
    expect(attempt?.hostKeyFingerprint).toBe(rented.hostKeyFingerprint);
    expect(rented.actualStatus).toBe("running");
    // A host the template can run on: a driver for the image's CUDA 13 (≥ 580), the bandwidth
    // floor — though the market holds older hosts of the same kind — and the image it pins.
    const older = s.sim.admin
      .offers()
      .filter((o) => o.gpu_name === "RTX 4090" && o.country_code === "US" && o.cuda_max_good < 13);
    expect(older.length).toBeGreaterThan(0);
    expect(Number(rented.vast?.cuda_max_good)).toBeGreaterThanOrEqual(13);
    expect(Number(String(rented.vast?.driver_version).split(".")[0])).toBeGreaterThanOrEqual(580);
    expect(Number(rented.vast?.inet_down)).toBeGreaterThanOrEqual(200);
    expect(rented.vast?.image_uuid).toBe("ostris/aitoolkit:0.13.18");
    expect(s.pushMessages()).toEqual([{ type: "push", jobId, attempt: 1 }]);

    expect(await statesVisited(s.store, jobId)).toEqual(["queued", "provisioning", "booting", "pushing"]);
    const report = await expectInvariantsHold(s);
    expect(report.alive).toBe(1);
  });

  it("the invariant checker catches an instance without a live job and a job holding two instances", async () => {
    const s = await scenarios.start({ seed: 4 });
    const jobId = await s.submit();
    await s.run(jobId, (j) => j.state === "booting");
    expect((await s.invariants()).violations).toEqual([]);
    // Rent behind the orchestrator's back: a second instance for the same job, and a stray one.
    const offers = await s.service.searchOffers({ gpuType: "RTX 4090", maxHourlyUsd: 5 });
    await s.service.provisionInstance({ offerId: offers[0]!.id, jobId, attempt: 1 });
    await s.service.provisionInstance({ offerId: offers[1]!.id, jobId: "job_nobody", attempt: 1 });
    const { violations } = await s.invariants();
    expect(violations).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/alive for unknown job job_nobody/),
        expect.stringMatching(new RegExp(`job ${jobId} held instances \\d+ and \\d+ at the same time`)),
      ]),
    );
  });
});
