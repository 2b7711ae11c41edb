/**
 * What the pre-flight check asks of a job's host, built from what the job knows: the offer it
 * rented (GPU model), the request (GPU count, VRAM floor, image), the template (VRAM, disk for
 * the model cache and outputs), the dataset's size and where ai-toolkit and the workspace are.
 *
 * `preflightRequirementsFor` is the one place these are put together, so when templates declare
 * their host needs themselves (minimum VRAM and CUDA, ai-toolkit's folder, the interpreter), only
 * this function changes its source. Until then the template figures are the table below.
 */
import { type PreflightRequirements, PreflightRequirementsSchema } from "../preflight";
import type { AttemptRecord, JobRecord } from "../store";
import { jobPaths, type TrainingTemplateName, templateDiskNeeds } from "../training";
import type { JobSettings } from "./settings";

/** Templates size disks in GB of 10^9 bytes, as Vast does. */
const BYTES_PER_GB = 1e9;

/**
 * VRAM per GPU each template needs, in MiB as nvidia-smi and Vast's `gpu_ram` count it. "24 GB"
 * cards report 24,564 MiB (4090, 3090, A5000) and the 24 GB L4 23,034: the floor sits just under
 * them. The low-VRAM template runs on 12 GB cards (12,288 MiB).
 */
export const TEMPLATE_MIN_VRAM_MIB: Readonly<Record<TrainingTemplateName, number>> = {
  "flux-lora-24gb": 23_000,
  "flux-lora-low-vram": 11_500,
};

/**
 * The CUDA version an image is built for. ai-toolkit's published image (`ostris/aitoolkit`) is
 * built on `nvidia/cuda:13.0.x` (its docker/Dockerfile: "NVIDIA driver >= 580"); images that say
 * their CUDA in the tag (`pytorch/pytorch:2.6.0-cuda12.4-…`, `…:cuda-12.8`) are taken at their
 * word, and so do `nvidia/cuda:X.Y…` bases; anything else is assumed to need CUDA 12.1, the oldest
 * PyTorch 2 wheels' toolkit.
 */
export function imageCudaVersion(image: string): string {
  const tagged =
    /^(?:docker\.io\/)?nvidia\/cuda:(\d{1,2})\.(\d{1,2})/i.exec(image) ??
    /cuda[-_]?(\d{1,2})\.(\d{1,2})/i.exec(image);
  if (tagged) return `${Number(tagged[1])}.${Number(tagged[2])}`;
  if (/^(docker\.io\/)?ostris\/aitoolkit(:|@|$)/i.test(image)) return "13.0";
  return "12.1";
}

export function preflightRequirementsFor(
  job: Pick<JobRecord, "jobId" | "request" | "dataset">,
  attempt: Pick<AttemptRecord, "gpuName">,
  settings: Pick<JobSettings, "push">,
): PreflightRequirements {
  const { request } = job;
  const template = request.training.template;
  const disk = templateDiskNeeds(request.training);
  // The offer search asked for gpu_ram ≥ (minVramGb − 0.5) GiB: the host must show the same.
  const requestedMib = request.minVramGb === undefined ? 0 : Math.floor((request.minVramGb - 0.5) * 1024);
  const paths = jobPaths(job.jobId, settings.push.workspaceRoot);
  // Validated here, so a bad setting fails this step rather than reading as a silent host.
  return PreflightRequirementsSchema.parse({
    ...(attempt.gpuName ? { gpuName: attempt.gpuName } : {}),
    gpuCount: request.numGpus,
    minVramMb: Math.max(TEMPLATE_MIN_VRAM_MIB[template], requestedMib),
    minCudaVersion: imageCudaVersion(request.image),
    minFreeDiskBytes: Math.ceil(
      (job.dataset?.bytes ?? 0) + (disk.modelCacheGb + disk.outputsReserveGb) * BYTES_PER_GB,
    ),
    workspaceDir: paths.workspaceRoot,
    aiToolkitDir: paths.toolkitDir,
    pythonCommand: settings.push.python,
  });
}
