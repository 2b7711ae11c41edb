/**
 * What the pre-flight check asks of a job's host, as the job flow builds it from the request, the
 * rented offer, the template, the dataset check and the settings.
 */
import { describe, expect, it } from "vitest";
import { sampleJobRequest } from "../../../../test/support/job-request";
import { imageCudaVersion, preflightRequirementsFor, resolveSettings } from "../../src/jobs";
import type { JobRequestInput } from "../../src/jobs/request";

const settings = resolveSettings();
const jobOf = (overrides: Partial<JobRequestInput> = {}, bytes: number | null = 2_500_000) => ({
  jobId: "job_abc",
  request: sampleJobRequest(overrides),
  dataset: { files: 10, bytes, archiveBytes: null, checkedAt: 0 },
});

describe("preflightRequirementsFor", () => {
  it("the offer's GPU, the template's VRAM and disk, the image's CUDA, the workspace's paths", () => {
    expect(preflightRequirementsFor(jobOf(), { gpuName: "RTX 4090" }, settings)).toEqual({
      gpuName: "RTX 4090",
      gpuCount: 1,
      minVramMb: 23_000,
      minCudaVersion: "13.0",
      minFreeDiskBytes: 38e9 + 2_500_000,
      workspaceDir: "/workspace",
      aiToolkitDir: "/workspace/ai-toolkit",
      pythonCommand: "python",
    });
  });

  it("follows the request: GPU count, a higher VRAM floor, the low-VRAM template, another image", () => {
    const needs = preflightRequirementsFor(
      jobOf({
        numGpus: 2,
        minVramGb: 48,
        image: "pytorch/pytorch:2.6.0-cuda12.4-cudnn9-devel",
        training: { template: "flux-lora-low-vram", params: { triggerWord: "ohwx" } },
      }),
      { gpuName: null },
      resolveSettings({ push: { workspaceRoot: "/data/ws", python: "python3" } }),
    );
    expect(needs).toEqual({
      gpuCount: 2,
      // What the offer search asked of gpu_ram for 48 GB: (48 - 0.5) × 1024 MiB.
      minVramMb: 48_640,
      minCudaVersion: "12.4",
      minFreeDiskBytes: 38e9 + 2_500_000,
      workspaceDir: "/data/ws",
      aiToolkitDir: "/data/ws/ai-toolkit",
      pythonCommand: "python3",
    });
    expect(
      preflightRequirementsFor(jobOf({ minVramGb: 8 }), { gpuName: "RTX 4090" }, settings).minVramMb,
    ).toBe(23_000);
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

describe("imageCudaVersion", () => {
  it.each([
    ["ostris/aitoolkit:latest", "13.0"],
    [`ostris/aitoolkit@sha256:${"a".repeat(64)}`, "13.0"],
    ["docker.io/ostris/aitoolkit:1.2.3", "13.0"],
    ["pytorch/pytorch:2.6.0-cuda12.4-cudnn9-devel", "12.4"],
    ["vastai/ostris-ai-toolkit:ea912d2-cuda-12.9", "12.9"],
    ["nvidia/cuda:12.8.1-runtime-ubuntu22.04", "12.8"],
    ["someone/trainer:latest", "12.1"],
  ])("%s needs CUDA %s", (image, cuda) => {
    expect(imageCudaVersion(image)).toBe(cuda);
  });
});
