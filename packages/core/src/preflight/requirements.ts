/**
 * What a rented host must offer before anything is pushed to it: the GPUs the offer promised, the
 * VRAM the training template needs, a driver new enough for the image's CUDA, room on the disk for
 * the dataset, the model cache and the outputs, a PyTorch that sees CUDA, and ai-toolkit's entry
 * point. The job flow builds this from the job, the offer and the template; the check only reads it.
 */
import { z } from "zod";
import { hasControlCharacters } from "../input";

/** An absolute path on the instance: it reaches a remote shell (quoted), so no `..` or control characters. */
const RemotePathSchema = z
  .string()
  .min(2)
  .max(512)
  .refine((s) => s.startsWith("/"), "must be an absolute path")
  .refine((s) => !s.split("/").includes(".."), "may not contain '..'")
  .refine((s) => !hasControlCharacters(s), "may not contain control characters");

export const CudaVersionSchema = z
  .string()
  .regex(/^\d{1,2}\.\d{1,2}$/, "a CUDA version is major.minor, e.g. 13.0");

export const PreflightRequirementsSchema = z
  .object({
    /** The offer's `gpu_name` (e.g. "RTX 4090"); absent = any model. */
    gpuName: z.string().trim().min(1).max(64).optional(),
    /** GPUs nvidia-smi must list: exactly the offer's count. */
    gpuCount: z.number().int().min(1).max(64),
    /** Smallest `memory.total` each GPU may report, in MiB (what nvidia-smi and Vast's `gpu_ram` count). */
    minVramMb: z.number().int().nonnegative(),
    /** The CUDA version the image is built for: the driver must support it. */
    minCudaVersion: CudaVersionSchema,
    /** Free bytes the workspace's filesystem must have: dataset + model cache + outputs. */
    minFreeDiskBytes: z.number().int().nonnegative(),
    /** Where job folders live (`df` is taken of it, or of its nearest existing parent). */
    workspaceDir: RemotePathSchema,
    /** ai-toolkit's checkout: `run.py` must be there. */
    aiToolkitDir: RemotePathSchema,
    /** The interpreter that runs `run.py`; it must import torch with CUDA available. */
    pythonCommand: z
      .string()
      .min(1)
      .max(256)
      .refine((s) => !hasControlCharacters(s), "may not contain control characters"),
  })
  .strict();

export type PreflightRequirements = z.infer<typeof PreflightRequirementsSchema>;
