/**
 * What the pre-flight check asks of a job's host, as the job flow builds it from the request, the
 * rented offer, the template, the dataset check and the settings.
 */
import { describe, expect, it } from "vitest";
import { sampleJobRequest } from "../../../../test/support/job-request";
import { preflightRequirementsFor, resolveSettings, vramFloorMib } from "../../src/jobs";
import type { JobRequestInput } from "../../src/jobs/request";

const settings = resolveSettings();
const jobOf = (overrides: Partial<JobRequestInput> = {}, bytes: number | null = 2_500_000) => ({
  jobId: "job_abc",
  request: sampleJobRequest(overrides),
  dataset: { files: 10, bytes, archiveBytes: null, checkedAt: 0 },
});

describe("preflightRequirementsFor", () => {
  it("the offer's GPU, the template's VRAM, CUDA, disk and image paths, the workspace", () => {
    expect(preflightRequirementsFor(jobOf(), { gpuName: "RTX 4090" }, settings)).toEqual({
      gpuName: "RTX 4090",
      gpuCount: 1,
      // The 24 GB template, as the offer search asked it of gpu_ram: (24 - 0.5) × 1024 MiB.
      minVramMb: 24_064,
      minCudaVersion: "13.0",
      minFreeDiskBytes: 38e9 + 2_500_000,
      workspaceDir: "/workspace",
      aiToolkitDir: "/app/ai-toolkit",
      pythonCommand: "python",
    });
  });

  it("follows the request (GPU count, a higher VRAM floor, the low-VRAM template) and the settings' paths", () => {
    const needs = preflightRequirementsFor(
      jobOf({
        numGpus: 2,
        minVramGb: 48,
        training: { template: "flux-lora-low-vram", params: { triggerWord: "ohwx" } },
      }),
      { gpuName: null },
      resolveSettings({
        push: { workspaceRoot: "/data/ws", python: "python3", toolkitDir: "/data/ws/ai-toolkit" },
      }),
    );
    expect(needs).toEqual({
      gpuCount: 2,
      // What the offer search asked of gpu_ram for 48 GB: (48 - 0.5) × 1024 MiB.
      minVramMb: 48_640,
      minCudaVersion: "13.0",
      minFreeDiskBytes: 38e9 + 2_500_000,
      workspaceDir: "/data/ws",
      aiToolkitDir: "/data/ws/ai-toolkit",
      pythonCommand: "python3",
    });
    expect(
      preflightRequirementsFor(jobOf({ minVramGb: 8 }), { gpuName: "RTX 4090" }, settings).minVramMb,
    ).toBe(24_064);
    expect(
      preflightRequirementsFor(
        jobOf({ training: { template: "flux-lora-low-vram", params: { triggerWord: "ohwx" } } }),
        { gpuName: "RTX 3060" },
        settings,
      ).minVramMb,
    ).toBe(vramFloorMib(12));
  });

  it("an archive of unknown size still needs the model cache and outputs", () => {
    expect(
      preflightRequirementsFor(jobOf({}, null), { gpuName: "RTX 4090" }, settings).minFreeDiskBytes,
    ).toBe(38e9);
  });

  it("refuses a setting no shell should see", () => {
    const bad = resolveSettings({ push: { python: "python\nrm -rf /" } });
    expect(() => preflightRequirementsFor(jobOf(), { gpuName: "RTX 4090" }, bad)).toThrow(/pythonCommand/);
  });
});
