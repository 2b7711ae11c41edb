/**
 * The core package's own Vast client (`VastAIService`) against the simulator: the simulator
 * speaks what the real client expects, end to end, including SSH.
 */
import { isVastAIError, NO_RATE_LIMITS, VastAIService } from "@vast-rental/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startVastSim, type VastSim } from "../src/index";
import { newKeyPair, run } from "./ssh-client";

let sim: VastSim;
let service: VastAIService;
const key = newKeyPair();

beforeAll(async () => {
  sim = await startVastSim({
    timeScale: 0,
    seed: 13,
    delays: { provisioningSeconds: 5, loadingSeconds: 20 },
  });
  service = new VastAIService({
    apiKey: sim.apiKey,
    baseUrl: sim.url,
    sshPublicKey: key.publicKey,
    rateLimits: NO_RATE_LIMITS,
    retry: { maxAttempts: 1 },
    logs: { pollIntervalMs: 1, maxPolls: 5 },
    env: {},
  });
});
afterAll(() => sim.close());

describe("core VastAIService against the simulator", () => {
  it("search → provision → running → SSH → stop → start → terminate", async () => {
    const offers = await service.searchOffers({ gpuType: "4090", maxHourlyUsd: 3, region: "US" });
    expect(offers.length).toBeGreaterThan(0);
    expect(offers.every((o) => o.gpuName === "RTX 4090" && o.countryCode === "US")).toBe(true);
    const offer = offers[0]!;

    const { instanceId, label } = await service.provisionInstance({ offerId: offer.id, jobId: "job-abc" });
    expect((await service.getInstanceStatus(instanceId)).state).toBe("provisioning");
    sim.admin.advance(5);
    expect((await service.getInstanceStatus(instanceId)).state).toBe("loading");
    sim.admin.advance(20);
    const running = await service.getInstanceStatus(instanceId);
    expect(running).toMatchObject({
      state: "running",
      label,
      gpuName: "RTX 4090",
      sshVia: "direct",
      sshHost: "127.0.0.1",
    });
    const out = await run(running.sshPort!, key.privateKey, "nvidia-smi && ls -d /workspace");
    expect(out.stdout).toContain("RTX 4090");

    expect((await service.findInstanceByLabel(label))?.instanceId).toBe(instanceId);
    expect(await service.getInstanceLogs(instanceId)).toContain("running");

    await service.stopInstance(instanceId);
    expect((await service.getInstanceStatus(instanceId)).state).toBe("stopped");
    await service.startInstance(instanceId);
    sim.admin.advance(20);
    expect((await service.getInstanceStatus(instanceId)).state).toBe("running");

    expect(await service.terminateInstance(instanceId)).toEqual({ alreadyGone: false });
    expect((await service.getInstanceStatus(instanceId)).state).toBe("destroyed");
    expect(await service.terminateInstance(instanceId)).toEqual({ alreadyGone: true });
  });

  it("maps the simulator's errors: a taken offer, a wrong key", async () => {
    const offer = (await service.searchOffers({ gpuType: "3090", maxHourlyUsd: 3 }))[0]!;
    await service.provisionInstance({ offerId: offer.id, jobId: "job-1" });
    const err = await service
      .provisionInstance({ offerId: offer.id, jobId: "job-2" })
      .catch((e: unknown) => e);
    expect(isVastAIError(err) && err.code).toBe("offer_unavailable");

    const wrong = new VastAIService({
      apiKey: "nope",
      baseUrl: sim.url,
      rateLimits: NO_RATE_LIMITS,
      env: {},
    });
    const authErr = await wrong.listInstances().catch((e: unknown) => e);
    expect(isVastAIError(authErr) && authErr.code).toBe("auth");
  });

  it("finds by label an instance whose create answered an error", async () => {
    await sim.admin.addFault({ kind: "create_error_after_create" });
    const offer = (await service.searchOffers({ gpuType: "3090", maxHourlyUsd: 3 }))[0]!;
    const err = await service
      .provisionInstance({ offerId: offer.id, jobId: "job-ghost" })
      .catch((e: unknown) => e);
    expect(isVastAIError(err)).toBe(true);
    const found = await service.findInstanceByLabel("vast-rental:job-ghost:1");
    expect(found?.state).toBe("provisioning");
  });

  it("reads a fatal `created` state as failed, as the normalizer expects", async () => {
    await sim.admin.addFault({ kind: "fatal", status: "created" });
    const offer = (await service.searchOffers({ gpuType: "A100", maxHourlyUsd: 20 }))[0]!;
    const { instanceId } = await service.provisionInstance({ offerId: offer.id, jobId: "job-fatal" });
    sim.admin.advance(25);
    expect((await service.getInstanceStatus(instanceId)).state).toBe("failed");
  });
});
