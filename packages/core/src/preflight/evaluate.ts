/**
 * Judges a pre-flight report against a job's needs. Every condition is checked and every failure
 * kept (a host with an old driver and a full disk says both), each with a reason a person can
 * act on. A pure function: the same report and needs always give the same outcome.
 */
import { z } from "zod";
import type { PreflightGpu, PreflightReport } from "./report";
import type { PreflightRequirements } from "./requirements";

export const PreflightConditionSchema = z.enum([
  "gpu_missing",
  "gpu_model_mismatch",
  "gpu_count",
  "vram_insufficient",
  "gpu_busy",
  "driver_too_old",
  "disk_insufficient",
  "torch_cuda_unavailable",
  "ai_toolkit_missing",
  "report_unparseable",
]);
export type PreflightCondition = z.infer<typeof PreflightConditionSchema>;

export const PreflightFailureSchema = z.object({
  condition: PreflightConditionSchema,
  reason: z.string(),
});
export type PreflightFailure = z.infer<typeof PreflightFailureSchema>;

/** What the host has, as the report said: kept in the job's timeline either way. */
export const PreflightHostSchema = z.object({
  gpus: z.array(
    z.object({
      index: z.number().int(),
      name: z.string(),
      memoryTotalMib: z.number().nullable(),
      memoryUsedMib: z.number().nullable(),
    }),
  ),
  driverVersion: z.string().nullable(),
  cudaVersion: z.string().nullable(),
  freeDiskBytes: z.number().nullable(),
  torch: z.string().nullable(),
  aiToolkit: z.boolean(),
});
export type PreflightHost = z.infer<typeof PreflightHostSchema>;

export const PreflightOutcomeSchema = z.discriminatedUnion("passed", [
  z.object({ passed: z.literal(true), host: PreflightHostSchema }),
  z.object({
    passed: z.literal(false),
    failures: z.array(PreflightFailureSchema).min(1),
    /** Null when the report could not be read at all. */
    host: PreflightHostSchema.nullable(),
  }),
]);
export type PreflightOutcome = z.infer<typeof PreflightOutcomeSchema>;

/**
 * A GPU with more than this much memory in use before we start has someone else on it. An idle
 * card reports a few MiB, one driving a display a few hundred; a model loaded by another tenant
 * (or a leftover process) takes gigabytes. nvidia-smi inside a container often cannot list other
 * containers' processes, so the memory in use is the signal that always works.
 */
export const BUSY_MEMORY_MIB = 1024;

/**
 * The oldest driver branch each CUDA toolkit release runs on (NVIDIA's CUDA release notes,
 * "CUDA Toolkit and Corresponding Driver Versions", Linux). Compared on the branch (the major
 * number): hosts run a branch's released drivers, and Vast lists drivers that way too.
 */
export const MIN_DRIVER_FOR_CUDA: ReadonlyArray<readonly [cuda: string, driverBranch: number]> = [
  ["11.8", 520],
  ["12.0", 525],
  ["12.1", 530],
  ["12.2", 535],
  ["12.3", 545],
  ["12.4", 550],
  ["12.5", 555],
  ["12.6", 560],
  ["12.8", 570],
  ["12.9", 575],
  ["13.0", 580],
];

/** Compares dotted versions numerically (12.10 > 12.9). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/**
 * The oldest driver branch that runs `cuda`: the table's entry for it, or for the next release
 * the table knows above it; null when it is newer than anything in the table.
 */
export function minimumDriverFor(cuda: string): number | null {
  for (const [version, branch] of MIN_DRIVER_FOR_CUDA) {
    if (compareVersions(version, cuda) >= 0) return branch;
  }
  return null;
}

const NOISE_TOKENS = new Set([
  "nvidia",
  "geforce",
  "tesla",
  "generation",
  "workstation",
  "server",
  "edition",
  "blackwell",
  "gpu",
  "sff",
  "pcie",
  "nvl",
  "sxm",
  "sxm2",
  "sxm4",
  "sxm5",
  "hbm2",
  "hbm2e",
  "hbm3",
  "hbm3e",
]);

/**
 * A GPU model as a sorted list of tokens, so Vast's `gpu_name` and nvidia-smi's name compare:
 * "RTX 4080S" and "NVIDIA GeForce RTX 4080 SUPER", "RTX 6000Ada" and "NVIDIA RTX 6000 Ada
 * Generation", "A100 SXM4" and "NVIDIA A100-SXM4-80GB" are the same model; "RTX 3060" and
 * "RTX 3060 Ti", "L40" and "L40S" are not. Brand words, memory sizes and form factors (SXM, PCIe,
 * NVL: Vast lists them from the machine) are left out.
 */
export function gpuModelKey(name: string): string {
  const tokens = name
    .toLowerCase()
    .replace(/max-q/g, "maxq")
    .replace(/\bsuper\b/g, "s")
    .replace(/\bquadro\b/g, "q")
    .replace(/\b\d+\s*gb\b/g, " ")
    .split(/[^a-z0-9]+/)
    .filter((token) => token !== "" && !NOISE_TOKENS.has(token))
    .flatMap((token) => token.match(/[a-z]+|\d+/g) ?? []);
  return tokens.sort().join(" ");
}

export function sameGpuModel(offerName: string, reportedName: string): boolean {
  return gpuModelKey(offerName) === gpuModelKey(reportedName);
}

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
const gb = (bytes: number) => `${(bytes / 1e9).toFixed(1)} GB`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Why nvidia-smi gave no GPUs, from its exit code and first words. */
function smiFailure(report: PreflightReport): string {
  const { exitCode, error } = report.nvidiaSmi;
  const said = error ? `: ${error}` : "";
  if (exitCode === 0) return "nvidia-smi lists no GPU";
  if (exitCode === 127) return `nvidia-smi is not installed (no NVIDIA driver in the container)${said}`;
  if (exitCode === 124) return "nvidia-smi did not answer in time (the driver may be wedged)";
  return `nvidia-smi failed with exit code ${exitCode}${said}`;
}

function hostOf(report: PreflightReport): PreflightHost {
  return {
    gpus: report.gpus.map(({ index, name, memoryTotalMib, memoryUsedMib }) => ({
      index,
      name,
      memoryTotalMib,
      memoryUsedMib,
    })),
    driverVersion: report.gpus[0]?.driverVersion ?? null,
    cudaVersion: report.cudaVersion,
    freeDiskBytes: report.disk.availableBytes,
    torch: report.torch.output || null,
    aiToolkit: report.runPy,
  };
}

function busyReasons(gpus: readonly PreflightGpu[], report: PreflightReport): string[] {
  const ours = new Map(gpus.map((gpu) => [gpu.uuid, gpu.index]));
  const reasons: string[] = [];
  for (const gpu of gpus) {
    const apps = (report.computeApps ?? []).filter((app) => app.gpuUuid === gpu.uuid);
    const used = gpu.memoryUsedMib ?? 0;
    if (apps.length === 0 && used <= BUSY_MEMORY_MIB) continue;
    const what = [
      ...(apps.length > 0
        ? [`${plural(apps.length, "process")} (pid ${apps.map((app) => app.pid).join(", ")})`]
        : []),
      ...(used > BUSY_MEMORY_MIB ? [`${used} MiB in use`] : []),
    ];
    reasons.push(`GPU ${gpu.index}: ${what.join(", ")}`);
  }
  // A process on a GPU nvidia-smi did not name among ours still shares the card.
  const stray = (report.computeApps ?? []).filter((app) => !ours.has(app.gpuUuid));
  if (stray.length > 0) {
    reasons.push(
      `${plural(stray.length, "process")} on the GPUs (pid ${stray.map((a) => a.pid).join(", ")})`,
    );
  }
  return reasons;
}

function driverFailure(report: PreflightReport, required: string): string | null {
  const driver = report.gpus[0]?.driverVersion ?? null;
  const branch = driver ? Number.parseInt(driver, 10) : Number.NaN;
  const needed = minimumDriverFor(required);
  const reported = report.cudaVersion;
  const supports = reported ? ` (supports CUDA ${reported})` : "";
  const need = `the image needs CUDA ${required}${needed !== null ? `, driver ${needed} or newer` : ""}`;
  if (needed !== null && !(branch >= needed))
    return `driver ${driver ?? "unknown"}${supports} is too old: ${need}`;
  if (reported !== null && compareVersions(reported, required) < 0) {
    return `driver ${driver ?? "unknown"} supports CUDA ${reported} only: ${need}`;
  }
  if (needed === null && reported === null) {
    return `cannot tell whether driver ${driver ?? "unknown"} supports CUDA ${required} (nvidia-smi shows no CUDA version)`;
  }
  return null;
}

/** Every condition the report fails for these needs; `passed` when there are none. */
export function evaluatePreflight(report: PreflightReport, needs: PreflightRequirements): PreflightOutcome {
  const failures: PreflightFailure[] = [];
  const fail = (condition: PreflightCondition, reason: string) => failures.push({ condition, reason });
  const { gpus } = report;

  if (report.nvidiaSmi.exitCode !== 0 || gpus.length === 0) {
    // Without nvidia-smi nothing else about the GPUs can be told: one failure says it all.
    fail("gpu_missing", smiFailure(report));
  } else {
    if (gpus.length !== needs.gpuCount) {
      fail("gpu_count", `nvidia-smi lists ${plural(gpus.length, "GPU")}, the offer has ${needs.gpuCount}`);
    }
    if (needs.gpuName !== undefined) {
      const wanted = needs.gpuName;
      const other = gpus.filter((gpu) => !sameGpuModel(wanted, gpu.name));
      if (other.length > 0) {
        const seen = other.map((gpu) => `GPU ${gpu.index} is ${gpu.name}`).join(", ");
        fail("gpu_model_mismatch", `${seen}; the offer was ${wanted}`);
      }
    }
    const small = gpus.filter((gpu) => gpu.memoryTotalMib === null || gpu.memoryTotalMib < needs.minVramMb);
    if (small.length > 0) {
      const seen = small
        .map(
          (gpu) =>
            `GPU ${gpu.index} has ${gpu.memoryTotalMib === null ? "unknown" : `${gpu.memoryTotalMib} MiB`}`,
        )
        .join(", ");
      fail("vram_insufficient", `${seen}; the template needs ${needs.minVramMb} MiB per GPU`);
    }
    const busy = busyReasons(gpus, report);
    if (busy.length > 0) fail("gpu_busy", `another process is using the GPU: ${busy.join("; ")}`);
    const driver = driverFailure(report, needs.minCudaVersion);
    if (driver) fail("driver_too_old", driver);
  }

  const free = report.disk.availableBytes;
  if (free === null) {
    fail(
      "disk_insufficient",
      `cannot read the free space of ${report.disk.path}: ${report.disk.raw || "df said nothing"}`,
    );
  } else if (free < needs.minFreeDiskBytes) {
    fail(
      "disk_insufficient",
      `${gb(free)} (${gib(free)}) free on ${report.disk.path}; the dataset, model cache and outputs need ${gb(needs.minFreeDiskBytes)}`,
    );
  }

  if (report.torch.exitCode !== 0) {
    const { exitCode, output } = report.torch;
    const why =
      exitCode === 3
        ? "PyTorch imports but CUDA is not available to it"
        : exitCode === 127
          ? `${needs.pythonCommand} is not installed`
          : exitCode === 124
            ? "importing PyTorch did not finish in time"
            : `${needs.pythonCommand} could not import PyTorch (exit ${exitCode})`;
    fail("torch_cuda_unavailable", output ? `${why}: ${output}` : why);
  }

  if (!report.runPy) fail("ai_toolkit_missing", `ai-toolkit's run.py is not in ${needs.aiToolkitDir}`);

  const host = hostOf(report);
  return failures.length === 0 ? { passed: true, host } : { passed: false, failures, host };
}

/** One line for the timeline and the attempt: "pre-flight check failed: driver_too_old (...); ...". */
export function describePreflightFailures(failures: readonly PreflightFailure[]): string {
  return `pre-flight check failed: ${failures.map((f) => `${f.condition} (${f.reason})`).join("; ")}`;
}
