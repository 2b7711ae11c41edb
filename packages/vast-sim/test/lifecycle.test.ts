import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startVastSim, type VastSim } from "../src/index";
import { client, instanceOf, offersOf, type SimClient, startFrozenSim } from "./helpers";

let sim: VastSim;
let vast: SimClient;

beforeAll(async () => {
  ({ sim, vast } = await startFrozenSim({
    seed: 5,
    delays: { provisioningSeconds: 10, loadingSeconds: 30 },
  }));
});
afterAll(() => sim.close());

async function rent(): Promise<number> {
  const offer = offersOf(await vast.search({ order: [["dph_total", "asc"]], limit: 1 }))[0]!;
  const r = await vast.create(offer.id, { image: "vastai/pytorch:2.4", disk: 20 });
  return r.json.new_contract as number;
}
const status = async (id: number) => instanceOf(await vast.show(id));

describe("lifecycle on a frozen clock", () => {
  it("goes null → loading → running exactly at the configured delays", async () => {
    const id = await rent();
    expect((await status(id)).actual_status).toBeNull();
    expect((await status(id)).status_msg).toBeNull();
    sim.admin.advance(9.9);
    expect((await status(id)).actual_status).toBeNull();
    sim.admin.advance(0.1);
    const loading = await status(id);
    expect(loading.actual_status).toBe("loading");
    expect(loading.status_msg).toBe("Pulling image vastai/pytorch:2.4");
    expect(loading).not.toHaveProperty("ports");
    expect(typeof loading.ssh_port).toBe("number");
    sim.admin.advance(29.999);
    expect((await status(id)).actual_status).toBe("loading");
    sim.admin.advance(0.001);
    const running = await status(id);
    expect(running).toMatchObject({
      actual_status: "running",
      intended_status: "running",
      cur_state: "running",
      status_msg: "success, running vastai/pytorch:2.4/ssh",
      public_ipaddr: "127.0.0.1",
      ssh_host: "127.0.0.1",
      ports: { "22/tcp": [{ HostIp: "0.0.0.0", HostPort: String(running.ssh_port) }] },
    });
    expect(running.start_date).toBe(sim.admin.now() / 1000);
    const history = sim.admin.instance(id)!.history;
    expect(history.map((h) => h.actual_status)).toEqual([null, "loading", "running"]);
    // Stamped when due, not when observed.
    expect(history[2]!.atMs - history[0]!.atMs).toBe(40_000);
  });

  it("stop → stopped (no ports), start → loading → running, destroy → gone", async () => {
    const id = await rent();
    sim.admin.advance(40);
    expect((await vast.manage(id, { state: "stopped" })).json).toEqual({ success: true });
    const stopped = await status(id);
    expect(stopped).toMatchObject({
      actual_status: "stopped",
      intended_status: "stopped",
      cur_state: "stopped",
    });
    expect(stopped).not.toHaveProperty("ports");
    expect((await vast.manage(id, { state: "running" })).json).toEqual({ success: true });
    expect((await status(id)).actual_status).toBe("loading");
    sim.admin.advance(30);
    expect((await status(id)).actual_status).toBe("running");
    await vast.destroy(id);
    expect((await vast.show(id)).json.instances).toBeNull();
    expect(sim.admin.instance(id)!.curState).toBe("unloaded");
  });

  it("reboots through loading, and stops/destroys in bulk as the CLI does", async () => {
    const a = await rent();
    const b = await rent();
    sim.admin.advance(40);
    expect((await vast.call("PUT", `/api/v0/instances/reboot/${a}/`, {})).json.success).toBe(true);
    expect((await status(a)).actual_status).toBe("loading");
    sim.admin.advance(30);
    expect((await status(a)).actual_status).toBe("running");
    expect(
      (await vast.call("PUT", "/api/v0/instances/", { state: "stopped", ids: [a, b] })).json.success,
    ).toBe(true);
    expect([(await status(a)).actual_status, (await status(b)).actual_status]).toEqual([
      "stopped",
      "stopped",
    ]);
    expect((await vast.call("DELETE", "/api/v0/instances/", { instance_ids: [a, b] })).json.success).toBe(
      true,
    );
    expect([(await vast.show(a)).json.instances, (await vast.show(b)).json.instances]).toEqual([null, null]);
  });

  it("creates stopped with target_state stopped", async () => {
    const offer = offersOf(await vast.search({ limit: 1 }))[0]!;
    const r = await vast.create(offer.id, { image: "img", disk: 10, target_state: "stopped" });
    expect((await status(r.json.new_contract as number)).actual_status).toBe("stopped");
  });

  it("creates a stopped instance and answers an error (with new_contract) for a bid below min_bid", async () => {
    const offer = offersOf(await vast.search({ type: "bid", order: [["dph_total", "asc"]], limit: 1 }))[0]!;
    const r = await vast.create(offer.id, { image: "img", disk: 10, price: 0.001 });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ success: false, error: "invalid_price" });
    const inst = await status(r.json.new_contract as number);
    expect(inst).toMatchObject({ actual_status: "stopped", is_bid: true });
  });
});

describe("time scale", () => {
  it("runs simulated minutes in real milliseconds", async () => {
    // 600 simulated seconds per real second: 5 s + 20 s of delays take about 42 ms.
    const fast = await startVastSim({
      ssh: false,
      timeScale: 600,
      delays: { provisioningSeconds: 5, loadingSeconds: 20 },
    });
    try {
      const v = client(fast);
      const offer = offersOf(await v.search({ limit: 1 }))[0]!;
      const id = (await v.create(offer.id, { image: "img", disk: 10 })).json.new_contract as number;
      const t0 = Date.now();
      let s: string | null = null;
      while (Date.now() - t0 < 3000) {
        s = instanceOf(await v.show(id)).actual_status;
        if (s === "running") break;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(s).toBe("running");
      const h = fast.admin.instance(id)!.history;
      expect(h[2]!.atMs - h[0]!.atMs).toBe(25_000);
      expect(Date.now() - t0).toBeLessThan(1500);
    } finally {
      await fast.close();
    }
  });
});
