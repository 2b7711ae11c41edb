import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startVastSim, type VastSim } from "../src/index";
import { client, type SimClient, startFrozenSim } from "./helpers";

// Seed 42's cheapest verified RTX 4090 (ask 8602106): dph_base 0.257 $/h, storage_cost 0.15 $/GB/month.
// Seed 42's cheapest verified H100 SXM (ask 8602373): dph_base 2.486 $/h, storage_cost 0.30 $/GB/month.
const RTX = { ask: 8602106, dph: 0.257, storage: 0.15 };
const H100 = { ask: 8602373, dph: 2.486, storage: 0.3 };

let sim: VastSim;
let vast: SimClient;

beforeAll(async () => {
  ({ sim, vast } = await startFrozenSim({
    seed: 42,
    delays: { provisioningSeconds: 10, loadingSeconds: 30 },
  }));
});
afterAll(() => sim.close());

describe("ledger", () => {
  it("the generated offers are the ones the hand computation below assumes", () => {
    const offers = sim.admin.offers();
    expect(offers.find((o) => o.id === RTX.ask)).toMatchObject({
      dph_base: RTX.dph,
      storage_cost: RTX.storage,
    });
    expect(offers.find((o) => o.id === H100.ask)).toMatchObject({
      dph_base: H100.dph,
      storage_cost: H100.storage,
    });
  });

  it("matches a hand computation of a scripted scenario to the cent", async () => {
    // RTX 4090, 50 GB disk:
    //   t=0 create; running at t=40 (10 s provisioning + 30 s loading, not billed for GPU)
    //   t=7240 stop (2 h running), t=10840 start (1 h stopped), running again at t=10870
    //   t=12670 destroy (30 min more running)
    const a = (await vast.create(RTX.ask, { image: "img", disk: 50 })).json.new_contract as number;
    // H100, 100 GB disk, created at t=0, stopped right away at t=0 (storage only), destroyed at t=12670.
    const b = (await vast.create(H100.ask, { image: "img", disk: 100 })).json.new_contract as number;
    await vast.manage(b, { state: "stopped" });

    sim.admin.advance(40 + 7200);
    await vast.manage(a, { state: "stopped" });
    sim.admin.advance(3600);
    await vast.manage(a, { state: "running" });
    sim.admin.advance(30 + 1800);
    await vast.destroy(a);
    await vast.destroy(b);

    // Hand computation:
    //   A GPU:     (7200 + 1800) s = 2.5 h × 0.257 $/h                    = 0.6425 $
    //   A storage: 50 GB × 0.15 $/GB/month / 720 h = 0.0104166.. $/h
    //              × 12670 s / 3600                                       = 0.0366608.. $
    //   B GPU:     0
    //   B storage: 100 GB × 0.30 / 720 = 0.041666.. $/h × 12670 / 3600    = 0.1466435.. $
    //   total                                                             = 0.8258043.. $ → 0.83 $
    const aGpu = 2.5 * 0.257;
    const aStorage = ((50 * 0.15) / 720) * (12670 / 3600);
    const bStorage = ((100 * 0.3) / 720) * (12670 / 3600);
    const { total, instances } = sim.admin.ledger();
    const la = instances.find((l) => l.instanceId === a)!;
    const lb = instances.find((l) => l.instanceId === b)!;
    expect(la.runningSeconds).toBe(9000);
    expect(la.storageSeconds).toBe(12670);
    expect(la.gpuMicros).toBe(Math.round(aGpu * 1e6));
    expect(la.storageMicros).toBe(Math.round(aStorage * 1e6));
    expect(lb.gpuMicros).toBe(0);
    expect(lb.storageMicros).toBe(Math.round(bStorage * 1e6));
    expect(total.totalUsd).toBe(0.83);
    expect(Math.abs(total.totalMicros / 1e6 - (aGpu + aStorage + bStorage))).toBeLessThan(0.000002);
    // Destroyed: nothing more accrues.
    sim.admin.advance(86_400);
    expect(sim.admin.ledger().total).toEqual(total);
  });

  it("does not depend on how often anyone polls", async () => {
    const run = async (polls: number) => {
      const s = await startVastSim({
        ssh: false,
        timeScale: 0,
        seed: 42,
        delays: { provisioningSeconds: 10, loadingSeconds: 30 },
      });
      const v = client(s);
      const id = (await v.create(RTX.ask, { image: "img", disk: 50 })).json.new_contract as number;
      for (let i = 0; i < 100; i++) {
        s.admin.advance(37);
        for (let p = 0; p < polls; p++) await v.show(id);
      }
      const l = s.admin.ledger().total;
      await s.close();
      return l;
    };
    expect(await run(0)).toEqual(await run(2));
  });
});
