import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { datasetDiskShortfall } from "../../src/dataset";
import { templateDiskNeeds } from "../../src/training";

const flux = templateDiskNeeds({ template: "flux-lora-24gb" });

describe("datasetDiskShortfall", () => {
  it("says what does not fit, in the figures a person can check", () => {
    expect(datasetDiskShortfall({ diskGb: 64, datasetBytes: 31.2e9, ...flux })).toBe(
      "the dataset (31.2 GB) plus the model cache (34 GB) and outputs (4 GB) do not fit the job's 64 GB disk",
    );
    expect(datasetDiskShortfall({ diskGb: 32, datasetBytes: null, ...flux })).toBe(
      "the model cache (34 GB) and outputs (4 GB) alone do not fit the job's 32 GB disk",
    );
    expect(datasetDiskShortfall({ diskGb: 38, datasetBytes: 50_000_000, ...flux })).toBe(
      "the dataset (50.0 MB) plus the model cache (34 GB) and outputs (4 GB) do not fit the job's 38 GB disk",
    );
  });

  it("fits exactly at the disk size", () => {
    expect(datasetDiskShortfall({ diskGb: 64, datasetBytes: 26e9, ...flux })).toBeNull();
    expect(datasetDiskShortfall({ diskGb: 64, datasetBytes: 26e9 + 1, ...flux })).toMatch(/\(26\.1 GB\)/);
    expect(datasetDiskShortfall({ diskGb: 38, datasetBytes: 0, ...flux })).toBeNull();
    expect(datasetDiskShortfall({ diskGb: 38, datasetBytes: null, ...flux })).toBeNull();
  });

  it("refuses exactly when the sum exceeds the disk, and its figures always add up to more than the disk", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 8, max: 2000 }),
        fc.integer({ min: 0, max: 2e12 }),
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 0, max: 20 }),
        (diskGb, datasetBytes, modelCacheGb, outputsReserveGb) => {
          const reason = datasetDiskShortfall({ diskGb, datasetBytes, modelCacheGb, outputsReserveGb });
          const overflows = datasetBytes + (modelCacheGb + outputsReserveGb) * 1e9 > diskGb * 1e9;
          expect(reason !== null).toBe(overflows);
          if (reason === null || datasetBytes < 1e8) return;
          const shown = Number(/^the dataset \(([\d.]+) GB\)/.exec(reason)?.[1]);
          expect(shown + modelCacheGb + outputsReserveGb).toBeGreaterThan(diskGb);
        },
      ),
      { numRuns: 1000, seed: 7 },
    );
  });
});
