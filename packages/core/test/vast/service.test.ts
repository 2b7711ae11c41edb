import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createRecordingLogger } from "../../src/observability";
import {
  NO_RATE_LIMITS,
  seededRandom,
  VastAIClient,
  VastAIError,
  VastAIService,
  type VastAIServiceOptions,
} from "../../src/vast";
import { offer4090 } from "./fixtures/raw";
import { failure, TEST_API_KEY, virtualClock } from "./support/fixtures";
import { type ScriptedServer, startScriptedServer } from "./support/scripted-server";

const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk2b3Z0ZXN0a2V5 orchestrator@vast-rental";

let server: ScriptedServer;
let dir: string;
beforeAll(async () => {
  server = await startScriptedServer();
  dir = await mkdtemp(join(tmpdir(), "vast-service-"));
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => server.reset());

function service(overrides: VastAIServiceOptions = {}) {
  const logger = createRecordingLogger();
  const svc = new VastAIService({
    env: {},
    apiKey: TEST_API_KEY,
    baseUrl: server.url,
    logger,
    sshPublicKey: PUBLIC_KEY,
    rateLimits: NO_RATE_LIMITS,
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    random: seededRandom(1),
    clock: virtualClock(),
    timeoutMs: 1000,
    ...overrides,
  });
  return { svc, logger };
}

describe("VastAIService configuration", () => {
  it("needs an API key, with a clear message", () => {
    expect(() => new VastAIService({ env: {} })).toThrow(/VASTAI_API_KEY/);
    expect(() => new VastAIService({ env: { VASTAI_API_KEY: "" } })).toThrow(VastAIError);
  });

  it("accepts a ready client instead of a key", async () => {
    server.on("DELETE", "/api/v0/instances/3/", { status: 404 });
    const client = new VastAIClient({
      apiKey: TEST_API_KEY,
      baseUrl: server.url,
      rateLimits: NO_RATE_LIMITS,
    });
    const svc = new VastAIService({ env: {}, client });
    expect(svc.client).toBe(client);
    expect(await svc.terminateInstance(3)).toEqual({ alreadyGone: true });
  });

  it("reads VASTAI_API_KEY and VASTAI_BASE_URL from the environment", async () => {
    server.on("GET", "/api/v0/instances/1/", { json: { instances: { id: 1, actual_status: "running" } } });
    const svc = new VastAIService({
      env: { VASTAI_API_KEY: TEST_API_KEY, VASTAI_BASE_URL: server.url },
      rateLimits: NO_RATE_LIMITS,
    });
    expect((await svc.getInstanceStatus(1)).state).toBe("running");
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${TEST_API_KEY}`);
  });

  it("reads the public key from <VASTAI_SSH_KEY_PATH>.pub", async () => {
    const keyPath = join(dir, "id_ed25519");
    await writeFile(`${keyPath}.pub`, `${PUBLIC_KEY}\n`);
    server.on("PUT", "/api/v0/asks/10/", { json: { success: true, new_contract: 500 } });
    server.on("POST", "/api/v0/instances/500/ssh/", { json: { success: true } });
    const { svc } = service({ sshPublicKey: undefined, env: { VASTAI_SSH_KEY_PATH: keyPath } });
    await svc.provisionInstance({ offerId: 10, jobId: "j1" });
    expect(server.hits("POST", "/api/v0/instances/500/ssh/")[0]?.body).toEqual({ ssh_key: PUBLIC_KEY });
  });

  it("refuses to rent without a usable public key (no request sent)", async () => {
    const cases: VastAIServiceOptions[] = [
      { sshPublicKey: undefined },
      { sshPublicKey: undefined, sshKeyPath: join(dir, "missing") },
      { sshPublicKey: "-----BEGIN OPENSSH PRIVATE KEY-----" },
    ];
    for (const overrides of cases) {
      const { svc } = service(overrides);
      await expect(svc.provisionInstance({ offerId: 10, jobId: "j1" })).rejects.toMatchObject({
        code: "invalid_request",
      });
    }
    expect(server.requests).toHaveLength(0);
  });
});

describe("searchOffers", () => {
  it("validates before any network call", async () => {
    const { svc } = service();
    await expect(svc.searchOffers({ gpuType: "RTX 9999", maxHourlyUsd: 1 })).rejects.toMatchObject({
      code: "invalid_request",
    });
    await expect(
      svc.searchOffers({ gpuType: "4090", region: "Mars", maxHourlyUsd: 1 }),
    ).rejects.toMatchObject({
      code: "invalid_request",
    });
    expect(server.requests).toHaveLength(0);
  });

  it("queries, re-checks and ranks what the marketplace returns", async () => {
    server.on("POST", "/api/v0/bundles/", {
      json: {
        offers: [
          { ...offer4090, id: 1, dph_total: 0.5 },
          { ...offer4090, id: 2, dph_total: 0.3, geolocation: "Berlin, DE" }, // wrong region
          { ...offer4090, id: 3, dph_total: 2.0 }, // over budget
          { ...offer4090, id: 4, dph_total: 0.4, gpu_name: "RTX 3090" }, // wrong GPU
          { ...offer4090, id: 5, dph_total: 0.45, geolocation: "Texas, US" },
          { ...offer4090, id: 6, dph_total: 0.2, machine_id: 13 }, // excluded machine
        ],
      },
    });
    const { svc } = service();
    const offers = await svc.searchOffers({
      gpuType: "rtx_4090",
      region: "NA",
      maxHourlyUsd: 1,
      excludeMachineIds: [13],
    });
    expect(offers.map((o) => o.id)).toEqual([5, 1]);
    expect(server.requests[0]?.body).toMatchObject({
      gpu_name: { eq: "RTX 4090" },
      geolocation: { in: ["US", "CA", "MX"] },
    });
  });
});

describe("provisionInstance", () => {
  it("creates with the label, SSH runtype and onstart, then attaches the key", async () => {
    server.on("PUT", "/api/v0/asks/4242/", { json: { success: true, new_contract: 777 } });
    server.on("POST", "/api/v0/instances/777/ssh/", { json: { success: true } });
    const { svc, logger } = service();
    const result = await svc.provisionInstance({
      offerId: 4242,
      jobId: "job-abc",
      attempt: 3,
      image: "ghcr.io/ostris/ai-toolkit:latest",
      diskGb: 80,
      env: { HF_HOME: "/workspace/hf" },
      onstart: "echo ready",
    });
    expect(result).toEqual({ instanceId: 777, offerId: 4242, label: "vast-rental:job-abc:3" });
    expect(server.hits("PUT", "/api/v0/asks/4242/")[0]?.body).toEqual({
      client_id: "me",
      image: "ghcr.io/ostris/ai-toolkit:latest",
      disk: 80,
      label: "vast-rental:job-abc:3",
      env: { HF_HOME: "/workspace/hf" },
      onstart: "touch ~/.no_auto_tmux\necho ready",
      runtype: "ssh_direc ssh_proxy",
      target_state: "running",
      cancel_unavail: true,
    });
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "PUT /api/v0/asks/4242/",
      "POST /api/v0/instances/777/ssh/",
    ]);
    expect(JSON.stringify(logger.records)).not.toContain(TEST_API_KEY);
  });

  it("uses defaults for image, disk, attempt and onstart, and honours an explicit label", async () => {
    server.on("PUT", "/api/v0/asks/1/", { json: { success: true, new_contract: 2 } });
    server.on("POST", "/api/v0/instances/2/ssh/", { json: { success: true } });
    const { svc } = service();
    expect(await svc.provisionInstance({ offerId: 1, jobId: "j" })).toMatchObject({
      label: "vast-rental:j:1",
    });
    const body = server.requests[0]?.body as Record<string, unknown>;
    expect(body.image).toMatch(/cuda/);
    expect(body.disk).toBeGreaterThanOrEqual(8);
    expect(body.onstart).toBe("touch ~/.no_auto_tmux");
    expect(body.env).toEqual({});
    server.reset();
    server.on("PUT", "/api/v0/asks/1/", { json: { success: true, new_contract: 2 } });
    server.on("POST", "/api/v0/instances/2/ssh/", { json: { success: true } });
    expect(await svc.provisionInstance({ offerId: 1, jobId: "j", label: "custom" })).toMatchObject({
      label: "custom",
    });
  });

  it("rejects bad input before any request", async () => {
    const { svc } = service();
    for (const input of [
      { offerId: 0, jobId: "j" },
      { offerId: 1, jobId: "" },
      { offerId: 1, jobId: "has space" },
      { offerId: 1, jobId: "j", diskGb: 2 },
    ]) {
      await expect(svc.provisionInstance(input)).rejects.toMatchObject({ code: "invalid_request" });
    }
    expect(server.requests).toHaveLength(0);
  });

  it("retries the key attach (a fresh instance may 404) and succeeds", async () => {
    server.on("PUT", "/api/v0/asks/5/", { json: { success: true, new_contract: 50 } });
    server.on("POST", "/api/v0/instances/50/ssh/", [
      { status: 404, json: { error: "no_such_instance" } },
      { json: { success: true } },
    ]);
    const { svc } = service();
    expect((await svc.provisionInstance({ offerId: 5, jobId: "j" })).instanceId).toBe(50);
    expect(server.hits("PUT", "/api/v0/asks/5/")).toHaveLength(1);
    expect(server.hits("POST", "/api/v0/instances/50/ssh/")).toHaveLength(2);
  });

  it("throws an error carrying the instance id when the key never attaches", async () => {
    server.on("PUT", "/api/v0/asks/5/", { json: { success: true, new_contract: 51 } });
    server.on("POST", "/api/v0/instances/51/ssh/", { status: 503, text: "unavailable" });
    const { svc } = service({ attachKeyAttempts: 3 });
    const error = await failure(() => svc.provisionInstance({ offerId: 5, jobId: "j" }));
    expect(error).toBeInstanceOf(VastAIError);
    expect(error).toMatchObject({ instanceId: 51, code: "server" });
    expect((error as Error).message).toContain("Instance 51 was created");
    // 3 service attempts × 2 client attempts; create still exactly once.
    expect(server.hits("POST", "/api/v0/instances/51/ssh/")).toHaveLength(6);
    expect(server.hits("PUT", "/api/v0/asks/5/")).toHaveLength(1);
  });

  it("does not retry the attach on an auth error", async () => {
    server.on("PUT", "/api/v0/asks/5/", { json: { success: true, new_contract: 52 } });
    server.on("POST", "/api/v0/instances/52/ssh/", { status: 401, json: { error: "auth_error" } });
    const { svc } = service();
    await expect(svc.provisionInstance({ offerId: 5, jobId: "j" })).rejects.toMatchObject({
      instanceId: 52,
      code: "auth",
    });
    expect(server.hits("POST", "/api/v0/instances/52/ssh/")).toHaveLength(1);
  });

  it("passes an ambiguous create through untouched and never attaches", async () => {
    server.on("PUT", "/api/v0/asks/6/", { status: 500, text: "oops" });
    const { svc } = service();
    await expect(svc.provisionInstance({ offerId: 6, jobId: "j" })).rejects.toMatchObject({
      ambiguous: true,
      code: "server",
    });
    expect(server.requests).toHaveLength(1);
  });

  it("a refused create that still rented an instance surfaces its id and attaches nothing", async () => {
    server.on("PUT", "/api/v0/asks/7/", {
      json: { success: false, error: "invalid_price", new_contract: 70 },
    });
    const { svc } = service();
    await expect(svc.provisionInstance({ offerId: 7, jobId: "j" })).rejects.toMatchObject({ instanceId: 70 });
    expect(server.requests).toHaveLength(1);
  });

  it("offer gone is offer_unavailable", async () => {
    server.on("PUT", "/api/v0/asks/6/", {
      status: 410,
      json: { error: "no_such_ask", msg: "no longer available" },
    });
    const { svc } = service();
    await expect(svc.provisionInstance({ offerId: 6, jobId: "j" })).rejects.toMatchObject({
      code: "offer_unavailable",
    });
  });
});

describe("lookups and lifecycle", () => {
  const rows = [
    { id: 1, label: "vast-rental:j:10", actual_status: "running" },
    { id: 2, label: "vast-rental:j:1", actual_status: "running" },
    { id: 3, label: "someone-else", actual_status: "running" },
  ];

  it("findInstanceByLabel matches exactly (j:1 is not j:10)", async () => {
    server.on("GET", "/api/v1/instances/", { json: { instances: rows } });
    const { svc } = service();
    expect((await svc.findInstanceByLabel("vast-rental:j:1"))?.instanceId).toBe(2);
    expect(await svc.findInstanceByLabel("vast-rental:j:2")).toBeNull();
  });

  it("listInstances filters by label prefix", async () => {
    server.on("GET", "/api/v1/instances/", { json: { instances: rows } });
    const { svc } = service();
    expect((await svc.listInstances({ labelPrefix: "vast-rental:" })).map((i) => i.instanceId)).toEqual([
      1, 2,
    ]);
    expect(await svc.listInstances()).toHaveLength(3);
  });

  it("getInstanceStatus reports destroyed when Vast has no such instance", async () => {
    server.on("GET", "/api/v0/instances/9/", { json: { instances: null } });
    server.on("GET", "/api/v0/instances/10/", { status: 404, json: { error: "no_such_instance" } });
    const { svc } = service();
    expect(await svc.getInstanceStatus(9)).toMatchObject({
      instanceId: 9,
      state: "destroyed",
      sshHost: null,
    });
    expect((await svc.getInstanceStatus(10)).state).toBe("destroyed");
  });

  it("start, stop, terminate and logs go to the right endpoints", async () => {
    server.on("PUT", "/api/v0/instances/4/", { json: { success: true } });
    server.on("DELETE", "/api/v0/instances/4/", [{ json: { success: true } }, { status: 404 }]);
    server.on("PUT", "/api/v0/instances/request_logs/4/", { json: { result_url: "/r/4" } });
    server.on("GET", "/r/4", { text: "hello" });
    const { svc } = service();
    await svc.startInstance(4);
    await svc.stopInstance(4);
    expect(await svc.terminateInstance(4)).toEqual({ alreadyGone: false });
    expect(await svc.terminateInstance(4)).toEqual({ alreadyGone: true });
    expect(await svc.getInstanceLogs(4, 50)).toBe("hello");
    expect(server.hits("PUT", "/api/v0/instances/4/").map((r) => r.body)).toEqual([
      { state: "running" },
      { state: "stopped" },
    ]);
    expect(server.hits("PUT", "/api/v0/instances/request_logs/4/")[0]?.body).toEqual({ tail: "50" });
  });
});
