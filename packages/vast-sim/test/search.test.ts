import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { VastSim } from "../src/index";
import { client, offersOf, type SimClient, startFrozenSim } from "./helpers";

let sim: VastSim;
let vast: SimClient;
let all: ReturnType<VastSim["admin"]["offers"]>;

beforeAll(async () => {
  ({ sim, vast } = await startFrozenSim({ seed: 7 }));
  all = sim.admin.offers();
});
afterAll(() => sim.close());

const visible = () => all.filter((o) => o.verified && !o.external && o.rentable && !o.rented);

describe("marketplace", () => {
  it("is deterministic from the seed", async () => {
    const { sim: again } = await startFrozenSim({ seed: 7 });
    const { sim: other } = await startFrozenSim({ seed: 8 });
    try {
      expect(again.admin.offers()).toEqual(all);
      expect(other.admin.offers()).not.toEqual(all);
    } finally {
      await again.close();
      await other.close();
    }
  });

  it("has a few hundred varied offers with Vast's spellings and quirks", () => {
    expect(all.length).toBe(300);
    const names = new Set(all.map((o) => o.gpu_name));
    for (const n of [
      "RTX 4090",
      "RTX 3090",
      "A100 SXM4",
      "A100 PCIE",
      "H100 SXM",
      "RTX A6000",
      "L40S",
      "RTX 6000Ada",
    ]) {
      expect(names).toContain(n);
    }
    expect(new Set(all.map((o) => o.num_gpus))).toEqual(new Set([1, 2, 4, 8]));
    const geos = new Set(all.map((o) => o.geolocation));
    expect(geos).toContain(null);
    expect(geos).toContain(", US");
    expect(geos).toContain("California, United States");
    expect(all.some((o) => o.country_code === null && o.geolocation !== null)).toBe(true);
    expect(new Set(all.map((o) => o.gpu_ram))).toContain(24564);
    expect(new Set(all.map((o) => o.gpu_ram))).toContain(81920);
    expect(new Set(all.map((o) => o.id)).size).toBe(all.length);
  });
});

describe("POST /api/v0/bundles/ query language", () => {
  it("applies the default filters verified/external/rentable/rented", async () => {
    const r = await vast.search({});
    expect(r.status).toBe(200);
    const ids = offersOf(r)
      .map((o) => o.id)
      .sort();
    expect(ids).toEqual(
      visible()
        .map((o) => o.id)
        .sort(),
    );
    expect(offersOf(r).length).toBeLessThan(all.length);
  });

  it("lets a query override a default and drops defaults with no_default", async () => {
    const unverified = offersOf(await vast.search({ verified: { eq: false } }));
    expect(unverified.length).toBeGreaterThan(0);
    expect(unverified.every((o) => o.verified === false)).toBe(true);
    const anyVerified = offersOf(await vast.search({ verified: "any" }));
    expect(anyVerified.some((o) => o.verified) && anyVerified.some((o) => !o.verified)).toBe(true);
    expect(offersOf(await vast.search({ no_default: true })).length).toBe(all.length);
  });

  it("supports eq, neq, gt, gte, lt, lte, in, notin", async () => {
    const v = visible();
    const count = async (q: Record<string, unknown>) => offersOf(await vast.search(q)).length;
    expect(await count({ num_gpus: { eq: 4 } })).toBe(v.filter((o) => o.num_gpus === 4).length);
    expect(await count({ num_gpus: { neq: 1 } })).toBe(v.filter((o) => o.num_gpus !== 1).length);
    expect(await count({ reliability2: { gt: 0.95 } })).toBe(v.filter((o) => o.reliability2 > 0.95).length);
    expect(await count({ num_gpus: { gte: 2 } })).toBe(v.filter((o) => o.num_gpus >= 2).length);
    expect(await count({ inet_down: { lt: 1000 } })).toBe(v.filter((o) => o.inet_down < 1000).length);
    expect(await count({ num_gpus: { lte: 2 } })).toBe(v.filter((o) => o.num_gpus <= 2).length);
    expect(await count({ gpu_name: { in: ["RTX 4090", "H100 SXM"] } })).toBe(
      v.filter((o) => ["RTX 4090", "H100 SXM"].includes(o.gpu_name)).length,
    );
    expect(await count({ gpu_name: { notin: ["RTX 4090"] } })).toBe(
      v.filter((o) => o.gpu_name !== "RTX 4090").length,
    );
    expect(await count({ num_gpus: { gte: 2, lte: 4 } })).toBe(
      v.filter((o) => o.num_gpus >= 2 && o.num_gpus <= 4).length,
    );
  });

  it("reads _ as a space in gpu_name values, and geolocation as a 2-letter code", async () => {
    const a = offersOf(await vast.search({ gpu_name: { eq: "RTX_4090" } }));
    expect(a.length).toBeGreaterThan(0);
    expect(a.every((o) => o.gpu_name === "RTX 4090")).toBe(true);
    const b = offersOf(await vast.search({ gpu_name: { in: ["A100_SXM4", "A100_PCIE"] } }));
    expect(new Set(b.map((o) => o.gpu_name))).toEqual(new Set(["A100 SXM4", "A100 PCIE"]));
    const us = offersOf(await vast.search({ geolocation: { in: ["US", "CA"] } }));
    expect(us.length).toBe(
      visible().filter((o) => o.country_code === "US" || o.country_code === "CA").length,
    );
  });

  it("orders, limits, and prices by allocated_storage and type (both on-demand spellings)", async () => {
    const cheap = offersOf(await vast.search({ order: [["dph_total", "asc"]], limit: 5 }));
    expect(cheap).toHaveLength(5);
    expect(cheap.map((o) => o.dph_total)).toEqual([...cheap.map((o) => o.dph_total)].sort((x, y) => x - y));
    const byScore = offersOf(await vast.search({ limit: 3 }));
    expect(byScore[0]!.score).toBeGreaterThanOrEqual(byScore[1]!.score as number);

    const base = { id: { eq: cheap[0]!.id } };
    const s5 = offersOf(await vast.search({ ...base, allocated_storage: 5, type: "on-demand" }))[0]!;
    const s100 = offersOf(await vast.search({ ...base, allocated_storage: 100, type: "ondemand" }))[0]!;
    const o = all.find((x) => x.id === cheap[0]!.id)!;
    expect(s5.dph_total).toBeCloseTo(o.dph_base + (5 * o.storage_cost) / 720, 6);
    expect(s100.dph_total).toBeCloseTo(o.dph_base + (100 * o.storage_cost) / 720, 6);
    const bid = offersOf(await vast.search({ ...base, allocated_storage: 5, type: "bid" }))[0]!;
    expect(bid.is_bid).toBe(true);
    expect(bid.dph_total).toBeCloseTo(o.min_bid + (5 * o.storage_cost) / 720, 6);
    expect((bid.search as { totalHour: number }).totalHour).toBe(bid.dph_total);
  });

  it("filters out offers whose disk cannot hold allocated_storage", async () => {
    const big = offersOf(await vast.search({ allocated_storage: 1000 }));
    expect(big.every((o) => (o.disk_space as number) >= 1000)).toBe(true);
    expect(big.length).toBeLessThan(visible().length);
  });

  it("serves the legacy GET /api/v0/bundles?q= with the same language", async () => {
    const q = { gpu_name: { eq: "RTX_3090" }, order: [["dph_total", "asc"]], limit: 4 };
    const legacy = await vast.call("GET", `/api/v0/bundles?q=${encodeURIComponent(JSON.stringify(q))}`);
    expect(legacy.status).toBe(200);
    expect(offersOf(legacy)).toEqual(offersOf(await vast.search(q)));
  });

  it("answers Vast's invalid_args for an unknown key, operator or type", async () => {
    for (const q of [{ nonsense: { eq: 1 } }, { num_gpus: { approx: 1 } }, { type: "spot-ish" }]) {
      const r = await vast.search(q);
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ success: false, error: "invalid_args" });
      expect(r.json.msg).toMatch(/^error 400\/\d+: Invalid args: /);
    }
  });

  it("works without a key (as gpuhunt calls it) but refuses a wrong key", async () => {
    expect((await client(sim, null).search({ limit: 1 })).status).toBe(200);
    const bad = await client(sim, "wrong").search({ limit: 1 });
    expect(bad.status).toBe(401);
    expect(bad.json).toEqual({ success: false, error: "auth_error", msg: "Invalid user key" });
  });
});
