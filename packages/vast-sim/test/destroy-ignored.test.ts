import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { VastSim } from "../src/index";
import { instanceOf, offersOf, type SimClient, startFrozenSim } from "./helpers";

let sim: VastSim;
let vast: SimClient;

beforeAll(async () => {
  ({ sim, vast } = await startFrozenSim({
    seed: 11,
    delays: { provisioningSeconds: 5, loadingSeconds: 10 },
  }));
});
beforeEach(() => sim.admin.reset());
afterAll(() => sim.close());

/** Rents the n cheapest offers and lets them reach running. */
async function rentRunning(n: number): Promise<number[]> {
  const offers = offersOf(await vast.search({ order: [["dph_total", "asc"]], limit: n }));
  const ids: number[] = [];
  for (const o of offers)
    ids.push((await vast.create(o.id, { image: "img", disk: 10 })).json.new_contract as number);
  sim.admin.advance(15);
  return ids;
}
const listedIds = async () => ((await vast.list()).json.instances as { id: number }[]).map((i) => i.id);

describe("destroy_ignored", () => {
  it("answers success but the named instance stays listed and billing; the next destroy works", async () => {
    const [a, b] = (await rentRunning(2)) as [number, number];
    expect(await sim.admin.addFault({ kind: "destroy_ignored", instanceId: a })).toEqual({
      id: expect.any(Number),
      applied: false,
    });
    // Aimed at a: b's destroy goes through.
    expect((await vast.destroy(b)).json).toEqual({ success: true });
    expect(instanceOf(await vast.show(b))).toBeNull();

    const ignored = await vast.destroy(a);
    expect(ignored.status).toBe(200);
    expect(ignored.json).toEqual({ success: true });
    expect(instanceOf(await vast.show(a)).actual_status).toBe("running");
    expect(await listedIds()).toEqual([a]);
    const before = sim.admin.instance(a)!;
    expect(before.destroyedAtMs).toBeNull();
    expect(before.history.map((h) => h.actual_status)).not.toContain("destroyed");
    sim.admin.advance(3600);
    const after = sim.admin.instance(a)!.ledger;
    expect(after.runningSeconds).toBe(before.ledger.runningSeconds + 3600);
    expect(after.storageSeconds).toBe(before.ledger.storageSeconds + 3600);
    expect(sim.admin.faults()).toEqual([]);

    const t = sim.admin.now();
    expect((await vast.destroy(a)).json).toEqual({ success: true });
    expect(instanceOf(await vast.show(a))).toBeNull();
    expect(await listedIds()).toEqual([]);
    expect(sim.admin.instance(a)).toMatchObject({ actualStatus: "destroyed", destroyedAtMs: t });
  });

  it("without instanceId it swallows the next N destroys of any instance, bulk destroys included", async () => {
    const [a, b, c] = (await rentRunning(3)) as [number, number, number];
    await sim.admin.addFault({ kind: "destroy_ignored", times: 2 });
    expect((await vast.destroy(a)).json).toEqual({ success: true });
    expect((await vast.call("DELETE", "/api/v0/instances/", { instance_ids: [b] })).json).toEqual({
      success: true,
    });
    expect(await listedIds()).toEqual([a, b, c]);
    expect((await vast.destroy(c)).json).toEqual({ success: true });
    expect(await listedIds()).toEqual([a, b]);
    expect((await vast.destroy(a)).status).toBe(200);
    expect(await listedIds()).toEqual([b]);
  });

  it("refuses to aim at an instance that does not exist", async () => {
    const r = await vast.call("POST", "/_sim/faults", { kind: "destroy_ignored", instanceId: 1 });
    expect(r.status).toBe(404);
    expect(r.json.error).toBe("no_such_instance");
    expect(sim.admin.faults()).toEqual([]);
  });
});
