import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { VastSim } from "../src/index";
import { instanceOf, offersOf, type SimClient, startFrozenSim } from "./helpers";
import { connect, exec, loginRefused, newKeyPair, run } from "./ssh-client";

let sim: VastSim;
let vast: SimClient;
const key = newKeyPair();

beforeAll(async () => {
  ({ sim, vast } = await startFrozenSim({
    ssh: true,
    seed: 21,
    delays: { provisioningSeconds: 5, loadingSeconds: 10 },
  }));
  await vast.call("POST", "/api/v0/ssh/", { ssh_key: key.publicKey });
});
afterAll(() => sim.close());

async function cheapest(): Promise<number> {
  return offersOf(await vast.search({ order: [["dph_total", "asc"]], limit: 1 }))[0]!.id;
}
async function rent(label?: string): Promise<number> {
  const r = await vast.create(await cheapest(), { image: "img", disk: 10, ...(label ? { label } : {}) });
  expect(r.status).toBe(200);
  return r.json.new_contract as number;
}
const show = async (id: number) => instanceOf(await vast.show(id));
const refused = (port: number) => loginRefused(port, key.privateKey);

describe("endpoint faults", () => {
  it("5xx: a JSON 500 on show, an nginx 502 page on search, for the next N calls only", async () => {
    const id = await rent();
    await sim.admin.addFault({ kind: "http_error", endpoint: "show", status: 500, times: 2 });
    for (let i = 0; i < 2; i++) {
      const r = await vast.show(id);
      expect(r.status).toBe(500);
      expect(r.json).toMatchObject({ success: false, error: "server_error" });
    }
    expect((await vast.show(id)).status).toBe(200);
    await sim.admin.addFault({ kind: "http_error", endpoint: "search", status: 502 });
    const gw = await vast.search({ limit: 1 });
    expect(gw.status).toBe(502);
    expect(gw.text).toContain("502 Bad Gateway");
    expect((await vast.search({ limit: 1 })).status).toBe(200);
  });

  it("latency: delays the next call", async () => {
    await sim.admin.addFault({ kind: "latency", endpoint: "search", ms: 100 });
    const t0 = Date.now();
    expect((await vast.search({ limit: 1 })).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
  });

  it("429 fault: Vast's plain-text, {detail} and {error} bodies, without Retry-After", async () => {
    await sim.admin.addFault({ kind: "rate_limit", endpoint: "*", style: "text" });
    const text = await vast.search({ limit: 1 });
    expect(text.status).toBe(429);
    expect(text.text).toMatch(/^API requests too frequent: endpoint threshold=/);
    expect(text.headers.get("retry-after")).toBeNull();
    await sim.admin.addFault({ kind: "rate_limit", endpoint: "search", style: "detail" });
    expect((await vast.search({ limit: 1 })).json.detail).toMatch(/^API requests too frequent/);
    await sim.admin.addFault({ kind: "rate_limit", endpoint: "search", style: "json" });
    expect((await vast.search({ limit: 1 })).json).toMatchObject({
      success: false,
      error: "rate_limit_exceeded",
    });
  });

  it("rate limits: Vast's minimum intervals per endpoint (create 4.5 s, show 2 s) when enabled", async () => {
    const { sim: limited, vast: v } = await startFrozenSim({ rateLimits: true });
    try {
      const offers = offersOf(await v.search({ limit: 2 }));
      expect((await v.create(offers[0]!.id, { image: "i", disk: 10 })).status).toBe(200);
      const second = await v.create(offers[1]!.id, { image: "i", disk: 10 });
      expect(second.status).toBe(429);
      expect(second.text).toBe("API requests too frequent: endpoint threshold=4.5");
      expect((await v.show(1)).status).toBe(200);
      expect((await v.show(1)).text).toBe("API requests too frequent: endpoint threshold=2");
      // Another endpoint is limited separately.
      expect((await v.list()).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it("rate limits: search per minute, with a JSON body when configured", async () => {
    const { sim: limited, vast: v } = await startFrozenSim({
      rateLimits: { searchPerMinute: 3, style: "json" },
    });
    try {
      for (let i = 0; i < 3; i++) expect((await v.search({ limit: 1 })).status).toBe(200);
      const r = await v.search({ limit: 1 });
      expect(r.status).toBe(429);
      expect(r.json).toEqual({
        success: false,
        error: "rate_limit_exceeded",
        msg: "API requests too frequent: endpoint threshold=3/minute",
      });
    } finally {
      await limited.close();
    }
  });
});

describe("create faults", () => {
  it("offer vanishing between search and create: no_such_ask, and the offer is gone", async () => {
    const ask = await cheapest();
    await sim.admin.addFault({ kind: "offer_vanish", offerId: ask });
    const r = await vast.create(ask, { image: "img", disk: 10 });
    expect(r.status).toBe(404);
    expect(r.json.error).toBe("no_such_ask");
    expect(offersOf(await vast.search({ id: { eq: ask } }))).toEqual([]);
  });

  it("double rent: two creates on one offer both succeed", async () => {
    const ask = await cheapest();
    await sim.admin.addFault({ kind: "double_rent", offerId: ask });
    const a = await vast.create(ask, { image: "img", disk: 10 });
    const b = await vast.create(ask, { image: "img", disk: 10 });
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.json.new_contract).not.toBe(b.json.new_contract);
    const [ia, ib] = [await show(a.json.new_contract as number), await show(b.json.new_contract as number)];
    expect(ia.machine_id).toBe(ib.machine_id);
    // Without the fault, a third create is refused.
    expect((await vast.create(ask, { image: "img", disk: 10 })).status).toBe(404);
  });

  it("create answers 500 although the instance exists (found by label)", async () => {
    await sim.admin.addFault({ kind: "create_error_after_create" });
    const r = await vast.create(await cheapest(), { image: "img", disk: 10, label: "ghost-1" });
    expect(r.status).toBe(500);
    expect(r.json).toMatchObject({ success: false, error: "server_error" });
    expect(r.json).not.toHaveProperty("new_contract");
    const found = await vast.list({ select_filters: { label: { eq: "ghost-1" } } });
    expect(found.json.instances_found).toBe(1);
  });
});

describe("late create over SSH", () => {
  it("the late instance runs its SSH server and takes the account key", async () => {
    await sim.admin.addFault({ kind: "late_create", delaySeconds: 20 });
    const r = await vast.create(await cheapest(), { image: "img", disk: 10, label: "late-ssh" });
    expect(r.status).toBe(504);
    sim.admin.advance(20 + 15);
    const found = await vast.list({ select_filters: { label: { eq: "late-ssh" } } });
    const inst = (found.json.instances as { actual_status: string; ssh_port: number }[])[0]!;
    expect(inst.actual_status).toBe("running");
    expect((await run(inst.ssh_port, key.privateKey, "echo late")).stdout).toBe("late\n");
  });
});

describe("instance faults", () => {
  it("stuck in loading forever", async () => {
    await sim.admin.addFault({ kind: "stuck_loading" });
    const id = await rent();
    sim.admin.advance(86_400);
    expect((await show(id)).actual_status).toBe("loading");
  });

  it("created with an OCI runtime failure, and exited with pull access denied", async () => {
    await sim.admin.addFault({ kind: "fatal", status: "created" });
    const a = await rent();
    const b = await rent();
    await sim.admin.addFault({ kind: "fatal", instanceId: b, status: "exited" });
    sim.admin.advance(15);
    const ia = await show(a);
    expect(ia.actual_status).toBe("created");
    expect(ia.status_msg).toContain(": OCI runtime create failed:");
    const ib = await show(b);
    expect(ib.actual_status).toBe("exited");
    expect(ib.status_msg).toContain("pull access denied");
    expect(ib.intended_status).toBe("running");
  });

  it("outbid → stopped (cur_state, intended_status, next_state all stopped), SSH closed, GPU billing stops", async () => {
    const id = await rent();
    sim.admin.advance(15);
    const port = (await show(id)).ssh_port as number;
    await sim.admin.addFault({ kind: "outbid", instanceId: id });
    const inst = await show(id);
    expect(inst).toMatchObject({
      actual_status: "stopped",
      cur_state: "stopped",
      intended_status: "stopped",
      next_state: "stopped",
    });
    expect(await refused(port)).toBe(true);
    const before = sim.admin.instance(id)!.ledger;
    sim.admin.advance(3600);
    const after = sim.admin.instance(id)!.ledger;
    expect(after.gpuMicros).toBe(before.gpuMicros);
    expect(after.storageMicros).toBeGreaterThan(before.storageMicros);
  });

  it("host offline: actual_status offline and SSH refused, then back online", async () => {
    const id = await rent();
    sim.admin.advance(15);
    const port = (await show(id)).ssh_port as number;
    expect((await run(port, key.privateKey, "true")).code).toBe(0);
    await sim.admin.addFault({ kind: "offline", instanceId: id });
    expect((await show(id)).actual_status).toBe("offline");
    expect(await refused(port)).toBe(true);
    await sim.admin.addFault({ kind: "offline", instanceId: id, offline: false });
    expect((await show(id)).actual_status).toBe("running");
    expect((await run(port, key.privateKey, "true")).code).toBe(0);
  });

  it("stale reads: show returns the state before the latest transition", async () => {
    const id = await rent();
    sim.admin.advance(15);
    await sim.admin.addFault({ kind: "stale_reads", instanceId: id, times: 2 });
    expect((await show(id)).actual_status).toBe("loading");
    expect((await show(id)).actual_status).toBe("loading");
    expect((await show(id)).actual_status).toBe("running");
  });

  it("SSH refuses connections for N seconds after running", async () => {
    await sim.admin.addFault({ kind: "ssh_refuse", seconds: 30 });
    const id = await rent();
    sim.admin.advance(15);
    const inst = await show(id);
    expect(inst.actual_status).toBe("running");
    expect(await refused(inst.ssh_port as number)).toBe(true);
    sim.admin.advance(30);
    expect((await run(inst.ssh_port as number, key.privateKey, "echo up")).stdout).toBe("up\n");
  });

  it("SSH drops mid-transfer", async () => {
    const id = await rent();
    sim.admin.advance(15);
    const port = (await show(id)).ssh_port as number;
    await sim.admin.addFault({ kind: "ssh_drop", instanceId: id, afterBytes: 50_000 });
    const c = await connect(port, key.privateKey);
    const closed = new Promise<void>((resolve) => c.on("close", () => resolve()));
    const r = await exec(c, "cat > /root/part; echo done", Buffer.alloc(1_000_000, 1)).catch(() => ({
      code: null,
      stdout: "",
    }));
    await closed;
    expect(r.stdout).not.toContain("done");
    // The fault fired once: the next transfer goes through.
    const ok = await run(
      port,
      key.privateKey,
      "cat > /root/part2 && wc -c < /root/part2",
      Buffer.alloc(200_000, 2),
    );
    expect(ok.stdout.trim()).toBe("200000");
  });
});

describe("random fault profile", () => {
  it("is seeded: the same profile gives the same sequence of answers", async () => {
    const answers = async () => {
      const { sim: s, vast: v } = await startFrozenSim({ faults: { seed: 4, http5xx: 0.3, rateLimit: 0.2 } });
      const out: number[] = [];
      for (let i = 0; i < 40; i++) out.push((await v.search({ limit: 1 })).status);
      await s.close();
      return out;
    };
    const a = await answers();
    expect(a).toEqual(await answers());
    expect(a).toContain(200);
    expect(a).toContain(429);
    expect(a.some((s) => s >= 500)).toBe(true);
  });
  // The random profile is set on the shared simulator for one create at a time, then turned off.
  const rentWith = async (profile: Parameters<VastSim["admin"]["setFaultProfile"]>[0]) => {
    sim.admin.setFaultProfile(profile);
    try {
      return await rent();
    } finally {
      sim.admin.setFaultProfile(null);
    }
  };
  const count = (kind: string) => (sim.admin.faultCounts() as Record<string, number>)[kind] ?? 0;
  const startedAt = (id: number) => sim.admin.instance(id)!.history.find((h) => h.reason === "started")!.atMs;

  it("draws outbids and offline hosts per instance: each happens once the instance has run the drawn time, stamped then", async () => {
    const [outbids, offlines] = [count("outbid"), count("offline")];
    const outbid = await rentWith({ seed: 5, outbid: 1, outbidAfterSeconds: [30, 30] });
    const offline = await rentWith({ seed: 5, offline: 1, offlineAfterSeconds: [40, 40] });
    sim.admin.advance(15); // provisioning 5 s and loading 10 s: both running
    sim.admin.advance(29);
    expect((await show(outbid)).actual_status).toBe("running");
    sim.admin.advance(2);
    expect(await show(outbid)).toMatchObject({ actual_status: "stopped", intended_status: "stopped" });
    const stopped = sim.admin.instance(outbid)!.history.at(-1)!;
    expect(stopped).toMatchObject({ reason: "outbid", actual_status: "stopped" });
    expect(stopped.atMs - startedAt(outbid)).toBe(30_000);
    expect((await show(offline)).actual_status).toBe("running");
    sim.admin.advance(10);
    expect((await show(offline)).actual_status).toBe("offline");
    expect(sim.admin.instance(offline)!.history.at(-1)!.atMs - startedAt(offline)).toBe(40_000);
    expect([count("outbid"), count("offline")]).toEqual([outbids + 1, offlines + 1]);
  });

  it("draws SSH drops per instance: a transfer is cut after the drawn bytes, counted when it happens", async () => {
    const id = await rentWith({ seed: 6, sshDrop: 1, sshDropBytes: [50_000, 50_000] });
    sim.admin.advance(15);
    const port = (await show(id)).ssh_port as number;
    const drops = count("ssh_drop");
    // Small commands pass: the budget is counted in bytes received.
    expect((await run(port, key.privateKey, "true")).code).toBe(0);
    expect(count("ssh_drop")).toBe(drops);
    const c = await connect(port, key.privateKey);
    const closed = new Promise<void>((resolve) => c.on("close", () => resolve()));
    const r = await exec(c, "cat > /root/part; echo done", Buffer.alloc(1_000_000, 1)).catch(() => ({
      stdout: "",
    }));
    await closed;
    expect(r.stdout).not.toContain("done");
    expect(count("ssh_drop")).toBe(drops + 1);
  });

  it("draws double rents: a create of an offer someone already rented goes through too", async () => {
    const offer = await cheapest();
    expect((await vast.create(offer, { image: "img", disk: 10 })).status).toBe(200);
    expect((await vast.create(offer, { image: "img", disk: 10 })).status).toBe(404);
    const doubles = count("double_rent");
    sim.admin.setFaultProfile({ seed: 7, doubleRent: 1 });
    try {
      const twice = await vast.create(offer, { image: "img", disk: 10 });
      expect(twice.status).toBe(200);
      expect(twice.json.new_contract).toEqual(expect.any(Number));
    } finally {
      sim.admin.setFaultProfile(null);
    }
    expect(count("double_rent")).toBe(doubles + 1);
  });
});

describe("fault counts", () => {
  it("counts every fault that took effect, by kind, in process and under /_sim/faults/counts", async () => {
    const { sim: s, vast: v } = await startFrozenSim({ seed: 3 });
    try {
      await s.admin.addFault({ kind: "http_error", endpoint: "search", status: 502, times: 2 });
      await s.admin.addFault({ kind: "rate_limit", endpoint: "search" });
      await s.admin.addFault({ kind: "latency", endpoint: "search", ms: 1 });
      for (let i = 0; i < 5; i++) await v.search({ limit: 1 });
      const offers = offersOf(await v.search({ limit: 3 }));
      await s.admin.addFault({ kind: "offer_vanish" });
      expect((await v.create(offers[0]!.id, { image: "i", disk: 10 })).status).toBe(404);
      await s.admin.addFault({ kind: "create_error_after_create", status: 500 });
      expect((await v.create(offers[1]!.id, { image: "i", disk: 10 })).status).toBe(500);
      await s.admin.addFault({ kind: "stuck_loading" });
      expect((await v.create(offers[2]!.id, { image: "i", disk: 10 })).status).toBe(200);
      const expected = {
        create_error_after_create: 1,
        http_5xx: 2,
        latency: 1,
        offer_vanish: 1,
        rate_limit_429: 1,
        stuck_loading: 1,
      };
      expect(s.admin.faultCounts()).toEqual(expected);
      const served = await v.call("GET", "/_sim/faults/counts");
      expect(served.json).toEqual(expected);
      await s.admin.reset();
      expect(s.admin.faultCounts()).toEqual({});
    } finally {
      await s.close();
    }
  });
});
