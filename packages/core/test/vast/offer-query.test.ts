import { describe, expect, it } from "vitest";
import { offer } from "../../../../test/support/fake-vast";
import {
  buildOfferQuery,
  resolveGpuNames,
  resolveOfferRequest,
  resolveRegion,
  selectOffers,
  VAST_GPU_NAMES,
  VastAIError,
} from "../../src/vast";

describe("GPU aliases", () => {
  it.each([
    ["4090", ["RTX 4090"]],
    ["RTX_4090", ["RTX 4090"]],
    ["rtx 4090", ["RTX 4090"]],
    ["  Rtx-4090 ", ["RTX 4090"]],
    ["3090", ["RTX 3090"]],
    ["A6000", ["RTX A6000"]],
    ["l40s", ["L40S"]],
    ["L40", ["L40"]],
    ["A100", ["A100 PCIE", "A100 SXM4", "A100X"]],
    ["a100_sxm4", ["A100 SXM4"]],
    ["H100", ["H100 PCIE", "H100 SXM", "H100 NVL"]],
    ["h100 nvl", ["H100 NVL"]],
    ["RTX 6000 Ada", ["RTX 6000Ada"]],
    ["RTX_4070S_Ti", ["RTX 4070S Ti"]],
    ["V100", ["Tesla V100"]],
  ])("%s → %j", (alias, names) => {
    expect(resolveGpuNames(alias)).toEqual(names);
  });

  it("every catalog name resolves to itself", () => {
    for (const name of VAST_GPU_NAMES) expect(resolveGpuNames(name)).toEqual([name]);
  });

  it("unknown GPUs resolve to null", () => {
    expect(resolveGpuNames("4091")).toBeNull();
    expect(resolveGpuNames("toaster")).toBeNull();
    expect(resolveGpuNames("__proto__")).toBeNull();
  });
});

describe("regions", () => {
  it.each([
    ["US", ["US"]],
    ["us", ["US"]],
    ["NA", ["US", "CA", "MX"]],
    ["north_america", ["US", "CA", "MX"]],
    ["OCEANIA", ["AU", "NZ"]],
    ["de", ["DE"]],
    ["UK", ["GB"]],
  ])("%s → %j", (region, codes) => {
    expect(resolveRegion(region)).toEqual(codes);
  });

  it("groups EU and ASIA", () => {
    expect(resolveRegion("EU")).toEqual(
      expect.arrayContaining(["DE", "FR", "NL", "SE", "GB", "NO", "PL", "CZ"]),
    );
    expect(resolveRegion("asia")).toEqual(expect.arrayContaining(["JP", "KR", "TW", "SG", "IN"]));
  });

  it("unknown regions resolve to null", () => {
    for (const region of ["XX", "MOON", "U", "constructor", "toString"])
      expect(resolveRegion(region)).toBeNull();
  });
});

describe("buildOfferQuery", () => {
  it("builds the full query for a typical request", () => {
    expect(
      buildOfferQuery({
        gpuType: "4090",
        region: "US",
        maxHourlyUsd: 1,
        numGpus: 2,
        minVramGb: 24,
        minReliability: 0.98,
        minDiskGb: 100,
        minInetDownMbps: 200,
        minCudaVersion: 12.4,
        limit: 10,
        excludeMachineIds: [1, 2],
      }),
    ).toEqual({
      gpu_name: { eq: "RTX 4090" },
      num_gpus: { eq: 2 },
      dph_total: { lte: 1 },
      rentable: { eq: true },
      rented: { eq: false },
      geolocation: { in: ["US"] },
      verified: { eq: true },
      gpu_ram: { gte: 24064 },
      reliability: { gte: 0.98 },
      disk_space: { gte: 100 },
      allocated_storage: 100,
      inet_down: { gte: 200 },
      cuda_max_good: { gte: 12.4 },
      order: [["dph_total", "asc"]],
      type: "on-demand",
      limit: 12,
    });
  });

  it("uses in for GPU families, defaults num_gpus to 1, omits unset filters and verified when not required", () => {
    const query = buildOfferQuery({ gpuType: "A100", maxHourlyUsd: 3, verifiedOnly: false });
    expect(query.gpu_name).toEqual({ in: ["A100 PCIE", "A100 SXM4", "A100X"] });
    expect(query.num_gpus).toEqual({ eq: 1 });
    expect(query.limit).toBe(64);
    for (const key of [
      "verified",
      "geolocation",
      "gpu_ram",
      "reliability",
      "disk_space",
      "inet_down",
      "cuda_max_good",
    ]) {
      expect(query).not.toHaveProperty(key);
    }
  });

  it("a gpu_ram floor that admits 24564-MiB cards for 24 GB (units: docs/vast-quirks.md#units)", () => {
    const query = buildOfferQuery({ gpuType: "4090", maxHourlyUsd: 1, minVramGb: 24 });
    const floor = (query.gpu_ram as { gte: number }).gte;
    expect(24564).toBeGreaterThanOrEqual(floor);
    expect(Math.round(floor / 1024)).toBe(24);
    expect(Math.round((floor - 1) / 1024)).toBe(23);
  });

  it.each([
    [{ gpuType: "4091", maxHourlyUsd: 1 }, /Unknown GPU/],
    [{ gpuType: "4090", region: "MOON", maxHourlyUsd: 1 }, /Unknown region/],
    [{ gpuType: "4090", maxHourlyUsd: -1 }, /Invalid offer search/],
    [{ gpuType: "", maxHourlyUsd: 1 }, /Invalid offer search/],
    [{ gpuType: "4090", maxHourlyUsd: 1, numGpus: 0 }, /Invalid offer search/],
  ])("rejects %j as invalid_request", (request, message) => {
    let error: unknown;
    try {
      buildOfferQuery(request);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(VastAIError);
    expect(error).toMatchObject({ code: "invalid_request", message: expect.stringMatching(message) });
  });
});

describe("selectOffers (re-check, exclude, rank)", () => {
  const resolved = resolveOfferRequest({
    gpuType: "4090",
    region: "NA",
    maxHourlyUsd: 0.6,
    minVramGb: 24,
    minReliability: 0.95,
    minDiskGb: 100,
    minInetDownMbps: 100,
    minCudaVersion: 12,
    excludeMachineIds: [666],
  });

  it("drops every offer that violates a hard constraint", () => {
    const bad = [
      offer(2, { gpuName: "RTX 3090" }),
      offer(3, { numGpus: 2 }),
      offer(4, { hourlyUsd: 0.61 }),
      offer(5, { countryCode: "DE" }),
      offer(6, { countryCode: null }),
      offer(7, { verified: false }),
      offer(8, { gpuRamGb: 16 }),
      offer(9, { reliability: 0.9 }),
      offer(10, { diskGb: 50 }),
      offer(11, { inetDownMbps: 10 }),
      offer(12, { cudaMaxGood: 11.8 }),
      offer(13, { cudaMaxGood: null }),
      offer(14, { machineId: 666 }),
    ];
    expect(selectOffers([...bad, offer(1)], resolved).map((o) => o.id)).toEqual([1]);
  });

  it("sorts by price, ties by higher reliability, and drops duplicate ids", () => {
    const offers = [
      offer(1, { hourlyUsd: 0.5, reliability: 0.96 }),
      offer(2, { hourlyUsd: 0.3 }),
      offer(3, { hourlyUsd: 0.5, reliability: 0.999 }),
      offer(2, { hourlyUsd: 0.1 }),
      offer(4, { hourlyUsd: 0.6, countryCode: "CA" }),
    ];
    expect(selectOffers(offers, resolved).map((o) => o.id)).toEqual([2, 3, 1, 4]);
  });

  it("matches GPU names regardless of spacing and respects the limit", () => {
    const limited = resolveOfferRequest({ gpuType: "A100", maxHourlyUsd: 5, limit: 2, verifiedOnly: false });
    const offers = [
      offer(1, { gpuName: "A100 SXM4", hourlyUsd: 2 }),
      offer(2, { gpuName: "a100  pcie", hourlyUsd: 1, verified: false }),
      offer(3, { gpuName: "A100X", hourlyUsd: 3 }),
      offer(4, { gpuName: "H100 SXM", hourlyUsd: 0.5 }),
    ];
    expect(selectOffers(offers, limited).map((o) => o.id)).toEqual([2, 1]);
  });
});
