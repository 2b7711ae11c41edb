import { describe, expect, it } from "vitest";
import { normalizeOffer, VastOfferSchema } from "../../src/vast";
import { offer4090 } from "./fixtures/raw";

describe("normalizeOffer fixtures (docs/vast-quirks.md#offers)", () => {
  it("normalizes a marketplace offer", () => {
    const offer = normalizeOffer(offer4090);
    expect(offer).toEqual({
      id: 1234567,
      machineId: 4412,
      hostId: 991,
      gpuName: "RTX 4090",
      numGpus: 1,
      gpuRamGb: 24,
      hourlyUsd: 0.3812,
      gpuHourlyUsd: 0.35,
      storageUsdPerGbMonth: 0.15,
      inetDownUsdPerGb: 0.004,
      reliability: 0.991,
      countryCode: "CA",
      geolocation: "Quebec, CA",
      diskGb: 120.5,
      inetDownMbps: 812.3,
      inetUpMbps: 640.1,
      cudaMaxGood: 12.4,
      verified: true,
      directPortCount: 20,
    });
    expect(VastOfferSchema.safeParse(offer).success).toBe(true);
  });

  it("keeps the billing rates apart, null when Vast omits or garbles them", () => {
    const rates = normalizeOffer({ ...offer4090, dph_base: null, storage_cost: "n/a", inet_down_cost: -1 });
    expect(rates).toMatchObject({ gpuHourlyUsd: null, storageUsdPerGbMonth: null, inetDownUsdPerGb: null });
    expect(rates?.hourlyUsd).toBe(0.3812);
  });

  it("rounds MiB-like gpu_ram to GB per GPU (÷1024)", () => {
    const gb = (extra: Record<string, unknown>) => normalizeOffer({ ...offer4090, ...extra })?.gpuRamGb;
    expect(gb({ gpu_ram: 24576 })).toBe(24);
    expect(gb({ gpu_ram: 81920 })).toBe(80);
    expect(gb({ gpu_ram: 49140 })).toBe(48);
    expect(gb({ gpu_ram: "11264" })).toBe(11);
    // Without gpu_ram, fall back to gpu_total_ram split across GPUs.
    expect(gb({ gpu_ram: null, gpu_total_ram: 98304, num_gpus: 4 })).toBe(24);
    expect(gb({ gpu_ram: null, gpu_total_ram: null })).toBe(0);
  });

  it("takes reliability2, else reliability, clamped to 0..1", () => {
    const rel = (extra: Record<string, unknown>) => normalizeOffer({ ...offer4090, ...extra })?.reliability;
    expect(rel({ reliability2: null, reliability: 0.9 })).toBe(0.9);
    expect(rel({ reliability2: " 0.95 " })).toBe(0.95);
    expect(rel({ reliability2: undefined, reliability: undefined })).toBe(0);
    expect(rel({ reliability2: 1.2 })).toBe(1);
  });

  it("uses ask_contract_id when id is missing, and search.totalHour when dph_total is", () => {
    expect(normalizeOffer({ ...offer4090, id: undefined })?.id).toBe(1234567);
    expect(normalizeOffer({ ...offer4090, dph_total: null })?.hourlyUsd).toBe(0.3812);
  });

  it("maps geolocation text and country names to ISO-2, null when unknown", () => {
    const cc = (geolocation: unknown, country_code?: unknown) =>
      normalizeOffer({ ...offer4090, geolocation, country_code })?.countryCode;
    expect(cc("California, United States")).toBe("US");
    expect(cc(", US")).toBe("US");
    expect(cc("Tokyo, JP")).toBe("JP");
    expect(cc("Sweden")).toBe("SE");
    expect(cc("Seoul, South Korea")).toBe("KR");
    expect(cc("Prague, Czechia")).toBe("CZ");
    expect(cc("Amsterdam, The Netherlands")).toBe("NL");
    expect(cc("nowhere")).toBeNull();
    expect(cc(null)).toBeNull();
    expect(cc(12)).toBeNull();
    expect(cc("Texas, US", "ca")).toBe("CA");
  });

  it("reads verified from a boolean, 1/0, strings, or the verification field", () => {
    const v = (extra: Record<string, unknown>) => normalizeOffer({ ...offer4090, ...extra })?.verified;
    expect(v({ verified: false, verification: "verified" })).toBe(false);
    expect(v({ verified: 1 })).toBe(true);
    expect(v({ verified: 0, verification: "verified" })).toBe(false);
    expect(v({ verified: " TRUE " })).toBe(true);
    expect(v({ verified: undefined, verification: "unverified" })).toBe(false);
    expect(v({ verified: undefined, verification: "Verified" })).toBe(true);
    expect(v({ verified: "maybe", verification: undefined })).toBe(false);
  });

  it("accepts cuda_max_good as a float or a string, null when absent", () => {
    expect(normalizeOffer({ ...offer4090, cuda_max_good: "12.8" })?.cudaMaxGood).toBe(12.8);
    expect(normalizeOffer({ ...offer4090, cuda_max_good: null })?.cudaMaxGood).toBeNull();
  });

  it("clamps negative or missing sizes to 0", () => {
    const offer = normalizeOffer({
      ...offer4090,
      disk_space: -1,
      inet_down: null,
      inet_up: "fast",
      direct_port_count: -1,
    });
    expect(offer).toMatchObject({ diskGb: 0, inetDownMbps: 0, inetUpMbps: 0, directPortCount: 0 });
  });

  it("rejects offers that cannot be rented or priced", () => {
    for (const extra of [
      { id: null, ask_contract_id: null },
      { id: "abc", ask_contract_id: undefined },
      { gpu_name: "  " },
      { num_gpus: 0 },
      { num_gpus: null },
      { dph_total: null, search: null },
      { dph_total: -1 },
    ]) {
      expect(normalizeOffer({ ...offer4090, ...extra })).toBeNull();
    }
    expect(normalizeOffer(null)).toBeNull();
    expect(normalizeOffer([offer4090])).toBeNull();
  });
});
