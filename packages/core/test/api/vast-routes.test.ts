/**
 * The routes that ask Vast: `GET /v1/offers` (searched and ranked as provisioning does) and
 * `/v1/instances` (ours only; anything else is 404), with Vast's rate limiting surfaced as 429.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { instance, offer } from "../../../../test/support/fake-vast";
import type { InstanceList, OfferSearchResult } from "../../src/api";
import { VastAIError } from "../../src/vast";
import { type ApiHarness, bearer, bodyOf, NOW_MS, problemOf, useApiHarness, VAST_API_KEY } from "./support";

const api = useApiHarness();
let h: ApiHarness;
beforeEach(() => {
  h = api.current();
});

const get = (path: string) => h.app.request(path, { headers: bearer() });
const rateLimited = () =>
  new VastAIError({ code: "rate_limited", message: `too frequent for key ${VAST_API_KEY}`, status: 429 });

describe("GET /v1/offers", () => {
  it("searches with the job's constraints and ranks as provisioning does", async () => {
    h.vast.offers = [
      offer(1, { hourlyUsd: 0.9, reliability: 0.99 }),
      offer(2, { hourlyUsd: 0.4, reliability: 0.9 }), // below the default 0.95 floor
      offer(3, { hourlyUsd: 0.5, reliability: 0.97 }),
      offer(4, { hourlyUsd: 1.5, reliability: 0.99 }), // over the cap
      offer(5, { hourlyUsd: 0.3, reliability: 0.99, machineId: 500 }), // failed recently
    ];
    await h.dynamo.recordHostFailure({
      machineId: 500,
      jobId: "job_x",
      attempt: 1,
      at: NOW_MS - 1000,
      reason: "t",
    });
    const response = await get("/v1/offers?gpuType=4090&region=US&maxHourlyUsd=1&diskGb=100&minDiskGb=80");
    expect(response.status).toBe(200);
    const body = await bodyOf<OfferSearchResult>(response);
    expect(body.offers.map((o) => [o.id, o.rank])).toEqual([
      [3, 1],
      [1, 2],
    ]);
    expect(body.excludedMachines).toBe(1);
    expect(h.vast.calls).toEqual([
      {
        op: "search",
        arg: expect.objectContaining({
          gpuType: "4090",
          region: "US",
          maxHourlyUsd: 1,
          numGpus: 1,
          minReliability: 0.95,
          minDiskGb: 100, // the disk the job would rent
          // What the default template (flux-lora-24gb) needs, and the bandwidth floor.
          minVramGb: 24,
          minCudaVersion: 13,
          minInetDownMbps: 200,
          excludeMachineIds: [500],
          limit: 64,
        }),
      },
    ]);
  });

  it("takes the template and bandwidth floor a job would have", async () => {
    h.vast.offers = [offer(1)];
    const response = await get(
      "/v1/offers?gpuType=4090&maxHourlyUsd=1&template=flux-lora-low-vram&minInetDownMbps=0",
    );
    expect(response.status).toBe(200);
    const search = h.vast.calls[0]?.arg as Record<string, unknown>;
    expect(search).toMatchObject({ minVramGb: 12, minCudaVersion: 13, minDiskGb: 64 });
    expect(search).not.toHaveProperty("minInetDownMbps");
    const unknown = await get("/v1/offers?gpuType=4090&maxHourlyUsd=1&template=sdxl-lora");
    expect(unknown.status).toBe(400);
    expect((await problemOf(unknown)).errors).toContainEqual({
      path: "template",
      message: expect.stringContaining("flux-lora-24gb"),
    });
  });

  it("answers `limit` offers at most", async () => {
    h.vast.offers = [1, 2, 3, 4].map((id) => offer(id));
    const body = await bodyOf<OfferSearchResult>(await get("/v1/offers?gpuType=4090&maxHourlyUsd=1&limit=2"));
    expect(body.offers).toHaveLength(2);
  });

  it.each([
    ["gpuType=4090", "maxHourlyUsd", "expected number"],
    ["gpuType=4090&maxHourlyUsd=-1", "maxHourlyUsd", "greater than 0"],
    ["gpuType=4090&maxHourlyUsd=1&numGpus=1.5", "numGpus", "expected int"],
    ["gpuType=4090&maxHourlyUsd=1&minReliability=2", "minReliability", "<=1"],
    ["gpuType=Banana&maxHourlyUsd=1", "gpuType", 'Unknown GPU type "Banana"'],
    ["gpuType=4090&maxHourlyUsd=1&region=Atlantis", "region", 'Unknown region "Atlantis"'],
  ])("?%s is a 400 naming %s", async (query, path, reason) => {
    const response = await get(`/v1/offers?${query}`);
    expect(response.status).toBe(400);
    expect((await problemOf(response)).errors).toContainEqual({
      path,
      message: expect.stringContaining(reason),
    });
    expect(h.vast.calls).toEqual([]);
  });

  it("surfaces Vast's rate limiting as 429 with Retry-After, without Vast's text", async () => {
    h.vast.searchOffers = async () => {
      throw rateLimited();
    };
    const response = await get("/v1/offers?gpuType=4090&maxHourlyUsd=1");
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("10");
    const text = JSON.stringify(await problemOf(response));
    expect(text).not.toContain(VAST_API_KEY);
    expect(text).toContain("rate limiting");
  });

  it("answers 503 when Vast is down, 502 when it refuses our account", async () => {
    h.vast.searchOffers = async () => {
      throw new VastAIError({ code: "server", message: "HTTP 502", status: 502 });
    };
    expect((await get("/v1/offers?gpuType=4090&maxHourlyUsd=1")).status).toBe(503);
    h.vast.searchOffers = async () => {
      throw new VastAIError({ code: "auth", message: `invalid api key ${VAST_API_KEY}`, status: 401 });
    };
    const refused = await get("/v1/offers?gpuType=4090&maxHourlyUsd=1");
    expect(refused.status).toBe(502);
    expect(await refused.text()).not.toContain(VAST_API_KEY);
  });
});

describe("/v1/instances", () => {
  beforeEach(() => {
    h.vast.instances.set(10, instance(10, { label: "vast-rental:job_a:1", state: "running" }));
    h.vast.instances.set(11, instance(11, { label: "someone-else", state: "running" }));
    h.vast.instances.set(12, instance(12, { label: null, state: "running" }));
  });

  it("lists only ours, with the job and attempt the label names", async () => {
    const response = await get("/v1/instances");
    expect(response.status).toBe(200);
    const body = await bodyOf<InstanceList>(response);
    expect(body.instances).toHaveLength(1);
    expect(body.instances[0]).toMatchObject({
      instanceId: 10,
      state: "running",
      owner: { jobId: "job_a", attempt: 1 },
    });
  });

  it("reads one of ours; any other id is 404, exactly like one that does not exist", async () => {
    expect(await (await get("/v1/instances/10")).json()).toMatchObject({ instanceId: 10 });
    for (const id of [11, 12, 99]) {
      const response = await get(`/v1/instances/${id}`);
      expect(response.status, String(id)).toBe(404);
      expect((await problemOf(response)).detail).toBe(`instance ${id} not found`);
    }
    for (const id of ["abc", "0", "-1", "1.5"])
      expect((await get(`/v1/instances/${id}`)).status, id).toBe(400);
  });

  it("stops and starts ours (202); refuses others with 404 and never touches them", async () => {
    for (const action of ["stop", "start"] as const) {
      const response = await h.app.request(`/v1/instances/10/${action}`, {
        method: "POST",
        headers: bearer(),
      });
      expect(response.status).toBe(202);
      expect(await response.json()).toEqual({ instanceId: 10, action, accepted: true });
      expect(
        (await h.app.request(`/v1/instances/11/${action}`, { method: "POST", headers: bearer() })).status,
      ).toBe(404);
    }
    expect(h.vast.calls.filter((c) => c.op === "stop" || c.op === "start")).toEqual([
      { op: "stop", arg: 10 },
      { op: "start", arg: 10 },
    ]);
  });

  it("terminates ours (a stray here: no job holds it); refuses others with 404", async () => {
    const response = await h.app.request("/v1/instances/10", { method: "DELETE", headers: bearer() });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ instanceId: 10, held: "stray", jobId: null });
    expect(h.vast.instances.has(10)).toBe(false);
    expect((await h.app.request("/v1/instances/11", { method: "DELETE", headers: bearer() })).status).toBe(
      404,
    );
    expect(h.vast.instances.has(11)).toBe(true);
  });

  it("surfaces Vast's rate limiting as 429", async () => {
    h.vast.listInstances = async () => {
      throw rateLimited();
    };
    expect((await get("/v1/instances")).status).toBe(429);
  });
});
