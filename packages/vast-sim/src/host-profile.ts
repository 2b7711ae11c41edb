/**
 * What a simulated host looks like from inside its instance: the GPUs nvidia-smi lists and whether
 * anything else uses them, the driver and the CUDA version it supports, the disk's free space,
 * whether PyTorch sees CUDA, and where ai-toolkit's run.py stand-in is. By default a host is
 * healthy: the offer's GPUs, idle, a driver for CUDA 13.0, the disk the create asked for, PyTorch
 * with CUDA, run.py in place — so a job's pre-flight check passes. A `host_profile` fault
 * (admin API) changes any of it for the next instance, or for every instance on one machine, so
 * tests can make a host fail each pre-flight condition.
 */
import { z } from "zod";
import type { SimOffer } from "./marketplace";
import type { SimGpu, SimHostEnvironment } from "./ssh/types";

/** Driver of a default host: the 580 branch runs CUDA 13.0 (ai-toolkit's published image). */
export const DEFAULT_DRIVER_VERSION = "580.95.05";

/** The highest CUDA version each driver branch supports, as nvidia-smi's banner reports it. */
const CUDA_OF_DRIVER: ReadonlyArray<readonly [branch: number, cuda: string]> = [
  [580, "13.0"],
  [575, "12.9"],
  [570, "12.8"],
  [560, "12.6"],
  [555, "12.5"],
  [550, "12.4"],
  [545, "12.3"],
  [535, "12.2"],
  [530, "12.1"],
  [525, "12.0"],
  [520, "11.8"],
];

export function cudaVersionOfDriver(driverVersion: string): string {
  const branch = Number.parseInt(driverVersion, 10);
  return CUDA_OF_DRIVER.find(([min]) => branch >= min)?.[1] ?? "11.7";
}

/** Where ai-toolkit's run.py stand-in is found by default: the old workspace path and the image's. */
export const DEFAULT_AI_TOOLKIT_DIRS = ["/workspace/ai-toolkit", "/app/ai-toolkit"] as const;

export const AiToolkitDirSchema = z
  .string()
  .regex(/^(\/[A-Za-z0-9._-]+)+$/, "an absolute path of plain names")
  .refine((path) => !path.split("/").some((part) => part === "." || part === ".."), "no '.' or '..'")
  .refine(
    (path) => path !== "/workspace" && path !== "/root",
    "a folder inside /workspace or /root, or outside them",
  );

export const HostProfileSchema = z
  .object({
    /**
     * `missing`: nvidia-smi is not installed (exit 127); `no_driver`: it cannot talk to the driver
     * (exit 9); `unknown_error`: a GPU in a bad state, whose memory and utilization read `[Unknown Error]`.
     */
    nvidiaSmi: z.enum(["ok", "missing", "no_driver", "unknown_error"]).default("ok"),
    /** The model nvidia-smi reports instead of the offer's (e.g. "RTX 3090"). */
    gpuName: z.string().min(1).max(64).optional(),
    /** GPUs nvidia-smi lists instead of the offer's count; 0 prints "No devices were found" (exit 6). */
    gpuCount: z.number().int().min(0).max(16).optional(),
    /** `memory.total` per GPU in MiB instead of the offer's `gpu_ram`. */
    gpuRamMb: z.number().int().positive().optional(),
    /** GPU indexes another tenant's process uses: listed by `--query-compute-apps`, most of their memory used. */
    busyGpus: z.array(z.number().int().min(0).max(15)).default([]),
    /** The driver nvidia-smi reports; its CUDA version follows unless `cudaVersion` says otherwise. */
    driverVersion: z
      .string()
      .regex(/^\d{3}\.\d+(\.\d+)?$/)
      .default(DEFAULT_DRIVER_VERSION),
    cudaVersion: z
      .string()
      .regex(/^\d{1,2}\.\d{1,2}$/)
      .optional(),
    /** What `df` reports free on the instance's disk, in bytes; default the disk asked for minus what is used. */
    diskFreeBytes: z.number().int().nonnegative().optional(),
    /** PyTorch inside: with CUDA, CPU-only (`torch.cuda.is_available()` is False), or not installed. */
    torch: z.enum(["cuda", "cpu", "missing"]).default("cuda"),
    /** Whether ai-toolkit's run.py stand-in is put in place (at the simulator's `aiToolkitDirs`). */
    aiToolkit: z.boolean().default(true),
  })
  .strict();

export type HostProfile = z.infer<typeof HostProfileSchema>;
export type HostProfileInput = z.input<typeof HostProfileSchema>;

/** A host as an instance sees it: its GPUs and the environment the shims read. */
export interface ResolvedHost {
  gpu: SimGpu;
  env: SimHostEnvironment;
  /** Folders (inside the instance) that get the run.py stand-in; empty without ai-toolkit. */
  aiToolkitDirs: string[];
}

export function resolveHost(
  offer: Pick<SimOffer, "gpu_name" | "num_gpus" | "gpu_ram">,
  diskGb: number,
  profile: HostProfile | null,
  aiToolkitDirs: readonly string[],
): ResolvedHost {
  const p = profile ?? HostProfileSchema.parse({});
  return {
    gpu: {
      name: p.gpuName ?? offer.gpu_name,
      count: p.gpuCount ?? offer.num_gpus,
      ramMb: p.gpuRamMb ?? offer.gpu_ram,
    },
    env: {
      nvidiaSmi: p.nvidiaSmi,
      busyGpus: [...p.busyGpus],
      driverVersion: p.driverVersion,
      cudaVersion: p.cudaVersion ?? cudaVersionOfDriver(p.driverVersion),
      // Vast sizes disks in GB of 10^9 bytes.
      diskBytes: Math.round(diskGb * 1e9),
      diskFreeBytes: p.diskFreeBytes ?? null,
      torch: p.torch,
    },
    aiToolkitDirs: p.aiToolkit ? [...aiToolkitDirs] : [],
  };
}

/**
 * ai-toolkit folders inside the instance folder (`/workspace/…` or `/root/…`, the same folder on
 * the host: written there as relative paths) and those outside it (bound read-only from a folder
 * of the simulator's, e.g. `/app/ai-toolkit` as in ai-toolkit's image).
 */
export function placeAiToolkitDirs(dirs: readonly string[]): { inFolder: string[]; mounts: string[] } {
  const inFolder: string[] = [];
  const mounts: string[] = [];
  for (const dir of dirs) {
    const inside = /^\/(workspace|root)\/(.+)$/.exec(dir);
    if (inside?.[2]) inFolder.push(inside[2]);
    else mounts.push(dir);
  }
  return { inFolder, mounts };
}
