import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { VastSim } from "../src/index";
import { client, offersOf, type SimClient, startFrozenSim } from "./helpers";

let sim: VastSim;
let vast: SimClient;

beforeAll(async () => {
  ({ sim, vast } = await startFrozenSim({ seed: 3, logPendingPolls: 0 }));
});
beforeEach(() => sim.admin.reset());
afterAll(() => sim.close());

describe("request counts", () => {
  it("count every Vast call per endpoint, faulted and refused ones too, but no admin or result_url request", async () => {
    expect(sim.admin.requestCounts()).toEqual({ total: 0, byEndpoint: {} });
    const ask = offersOf(await vast.search({ limit: 1 }))[0]!.id;
    const id = (await vast.create(ask, { image: "img", disk: 10 })).json.new_contract as number;
    await vast.show(id);
    await sim.admin.addFault({ kind: "http_error", endpoint: "show", status: 503 });
    expect((await vast.show(id)).status).toBe(503);
    await sim.admin.addFault({ kind: "rate_limit", endpoint: "list" });
    expect((await vast.list()).status).toBe(429);
    expect((await vast.list()).status).toBe(200);
    expect((await vast.call("GET", "/api/v0/instances/")).status).toBe(410);
    await vast.manage(id, { label: "x" });
    await vast.call("GET", "/api/v0/ssh/");
    await vast.call("GET", `/api/v0/instances/${id}/ssh/`);
    await vast.call("GET", "/api/v0/gpu_names/unique/");
    const logs = await vast.call("PUT", `/api/v0/instances/request_logs/${id}/`, {});
    expect((await fetch(logs.json.result_url as string)).status).toBe(200);
    expect((await client(sim, "wrong-key").show(id)).status).toBe(401);
    await vast.destroy(id);
    // Admin calls and unknown paths are not Vast calls.
    await vast.call("GET", "/_sim/instances");
    await vast.call("GET", "/api/v0/nothing/here/");

    const expected = {
      total: 14,
      byEndpoint: {
        search: 1,
        create: 1,
        show: 3,
        list: 2,
        legacy_list: 1,
        manage: 1,
        ssh_keys: 1,
        instance_ssh: 1,
        gpu_names: 1,
        logs: 1,
        destroy: 1,
      },
    };
    expect(sim.admin.requestCounts()).toEqual(expected);
    const served = await vast.call("GET", "/_sim/requests");
    expect(served.status).toBe(200);
    expect(served.json).toEqual(expected);
  });

  it("count calls refused by Vast's rate limits", async () => {
    const { sim: limited, vast: v } = await startFrozenSim({ rateLimits: true });
    try {
      const [a, b] = offersOf(await v.search({ limit: 2 })).map((o) => o.id);
      expect((await v.create(a!, { image: "i", disk: 10 })).status).toBe(200);
      expect((await v.create(b!, { image: "i", disk: 10 })).status).toBe(429);
      expect(limited.admin.requestCounts()).toEqual({ total: 3, byEndpoint: { search: 1, create: 2 } });
    } finally {
      await limited.close();
    }
  });

  it("are cleared by DELETE /_sim/requests, resetRequestCounts() and reset()", async () => {
    await vast.list();
    expect((await vast.call("DELETE", "/_sim/requests")).json).toEqual({ success: true });
    expect(sim.admin.requestCounts()).toEqual({ total: 0, byEndpoint: {} });
    await vast.list();
    await vast.list();
    expect(sim.admin.requestCounts()).toEqual({ total: 2, byEndpoint: { list: 2 } });
    sim.admin.resetRequestCounts();
    expect(sim.admin.requestCounts().total).toBe(0);
    await vast.search({ limit: 1 });
    await sim.admin.reset();
    expect((await vast.call("GET", "/_sim/requests")).json).toEqual({ total: 0, byEndpoint: {} });
  });
});
