/**
 * What the pre-flight check asks of a job's host, built from what the job knows: the offer it
 * rented (GPU model), the request (GPU count, VRAM floor), the training template's declared host
 * needs (VRAM, GPU count, CUDA, disk for the model cache and outputs, where ai-toolkit and its
 * interpreter are in the image), the dataset's size and the workspace.
 *
 * The figures are the ones the offer search used (`jobOfferSearch`), so a host passes the check
 * exactly when it is what the search asked Vast for.
 */
import { type PreflightRequirements, PreflightRequirementsSchema } from "../preflight";
import type { AttemptRecord, JobRecord } from "../store";
import { jobPaths, templateFor } from "../training";
import type { JobSettings } from "./settings";

/** Templates size disks in GB of 10^9 bytes, as Vast does. */
const BYTES_PER_GB = 1e9;

/**
 * VRAM per GPU as nvidia-smi counts it (MiB), for a floor in GB as offers report it: the offer
 * search asks Vast for gpu_ram ≥ (GB − 0.5) × 1024, so "24 GB" cards (24,564 MiB) pass a 24 GB floor.
 */
export function vramFloorMib(minVramGb: number): number {
  return Math.floor((minVramGb - 0.5) * 1024);
}

export function preflightRequirementsFor(
  job: Pick<JobRecord, "jobId" | "request" | "dataset">,
  attempt: Pick<AttemptRecord, "gpuName">,
  settings: Pick<JobSettings, "push">,
): PreflightRequirements {
  const { request } = job;
  const { host, image } = templateFor(request.training);
  const paths = jobPaths(job.jobId, settings.push.workspaceRoot);
  // Validated here, so a bad setting fails this step rather than reading as a silent host.
  return PreflightRequirementsSchema.parse({
    ...(attempt.gpuName ? { gpuName: attempt.gpuName } : {}),
    gpuCount: Math.max(request.numGpus, host.gpuCount),
    minVramMb: vramFloorMib(Math.max(request.minVramGb ?? 0, host.minVramGb)),
    minCudaVersion: host.minCudaVersion.toFixed(1),
    minFreeDiskBytes: Math.ceil(
      (job.dataset?.bytes ?? 0) + (host.modelCacheGb + host.outputsReserveGb) * BYTES_PER_GB,
    ),
    workspaceDir: paths.workspaceRoot,
    aiToolkitDir: settings.push.toolkitDir ?? image.toolkitDir,
    pythonCommand: settings.push.python ?? image.python,
  });
}
