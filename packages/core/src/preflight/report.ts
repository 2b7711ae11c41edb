/**
 * The pre-flight report: a script run on the instance in one exec prints what the host has, one
 * `key=value` per line between a start and an end mark, and `parsePreflightReport` turns that into
 * a typed report (zod-validated). Judging the report against a job's needs is `evaluate.ts`'s job.
 *
 * The script only reads: running it twice (a redelivered readiness check) changes nothing on the
 * host. Every probe runs under `timeout`, because a wedged driver makes nvidia-smi hang rather
 * than fail. Output a login shell prints before the start mark (a chatty `.bashrc`) is skipped.
 */
import { z } from "zod";

export const REPORT_START = "vast-rental-preflight=1";
export const REPORT_END = "end=1";

/**
 * Arguments: workspace dir, ai-toolkit dir, python command, seconds allowed per probe. Host text
 * (an error message, a traceback's last lines) is folded onto one line and cut to 300 characters.
 */
export const PREFLIGHT_SCRIPT = `ws=$1 toolkit=$2 python=$3 limit=$4
run() { if command -v timeout >/dev/null 2>&1; then timeout "$limit" "$@"; else "$@"; fi; }
oneline() { tr -d '\\r' | tr '\\n' ' ' | cut -c1-300; }
echo "${REPORT_START}"
out=$(run nvidia-smi --query-gpu=index,uuid,memory.total,memory.used,driver_version,name --format=csv,noheader,nounits 2>&1)
code=$?
echo "smi_exit=$code"
if [ "$code" -eq 0 ]; then
  printf '%s\\n' "$out" | grep -v '^[[:space:]]*$' | sed 's/^/gpu=/'
  echo "cuda_version=$(run nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\\([0-9][0-9.]*\\).*/\\1/p' | head -n 1)"
  apps=$(run nvidia-smi --query-compute-apps=pid,gpu_uuid,used_memory --format=csv,noheader,nounits 2>&1)
  echo "apps_exit=$?"
  printf '%s\\n' "$apps" | grep '^[[:space:]]*[0-9]' | sed 's/^/app=/'
else
  echo "smi_error=$(printf '%s' "$out" | oneline)"
fi
d=$ws
while [ ! -e "$d" ] && [ "$d" != / ]; do d=$(dirname -- "$d"); done
echo "disk_path=$d"
echo "df=$(run df -PB1 -- "$d" 2>&1 | tail -n 1 | oneline)"
out=$(run "$python" -c 'import sys, torch
ok = torch.cuda.is_available()
print("torch %s cuda %s devices %d" % (torch.__version__, ok, torch.cuda.device_count() if ok else 0))
sys.exit(0 if ok else 3)' 2>&1)
echo "torch_exit=$?"
echo "torch=$(printf '%s' "$out" | tail -n 3 | oneline)"
if [ -f "$toolkit/run.py" ]; then echo "run_py=1"; else echo "run_py=0"; fi
echo "${REPORT_END}"
`;

/** The report does not have the shape the script prints: the host is not one we can judge. */
export class PreflightReportError extends Error {
  override readonly name = "PreflightReportError";
}

/** `24564`, `24564 MiB` (a host ignoring `nounits`), or `[N/A]` (null). */
const MibSchema = z
  .string()
  .trim()
  .transform((value, ctx) => {
    if (/^\[?N\/A\]?$/i.test(value)) return null;
    const match = /^(\d+(?:\.\d+)?)\s*(?:MiB)?$/i.exec(value);
    if (!match) {
      ctx.addIssue({ code: "custom", message: `not a MiB amount: '${value}'` });
      return z.NEVER;
    }
    return Math.round(Number(match[1]));
  });

const IntSchema = z
  .string()
  .trim()
  .regex(/^-?\d+$/, "not an integer")
  .transform((value) => Number(value));

/** `index, uuid, memory.total, memory.used, driver_version, name`: the name last, as it may hold anything. */
const GpuRowSchema = z.string().transform((line, ctx) => {
  const parts = line.split(",");
  if (parts.length < 6) {
    ctx.addIssue({ code: "custom", message: `a GPU row needs 6 fields: '${line}'` });
    return z.NEVER;
  }
  const [index, uuid, total, used, driver] = parts.map((p) => p.trim());
  const row = z
    .object({
      index: IntSchema,
      uuid: z.string().min(1),
      memoryTotalMib: MibSchema,
      memoryUsedMib: MibSchema,
      driverVersion: z.string().regex(/^\d+(\.\d+)*$/, "not a driver version"),
      name: z.string().min(1),
    })
    .safeParse({
      index,
      uuid,
      memoryTotalMib: total,
      memoryUsedMib: used,
      driverVersion: driver,
      name: parts.slice(5).join(",").trim(),
    });
  if (!row.success) {
    ctx.addIssue({ code: "custom", message: `bad GPU row '${line}': ${row.error.issues[0]?.message}` });
    return z.NEVER;
  }
  return row.data;
});

/** `pid, gpu_uuid, used_memory` of a process using a GPU. */
const AppRowSchema = z.string().transform((line, ctx) => {
  const [pid, uuid, used] = line.split(",").map((p) => p.trim());
  const row = z
    .object({ pid: IntSchema, gpuUuid: z.string().default(""), usedMemoryMib: MibSchema.nullable() })
    .safeParse({ pid, gpuUuid: uuid, usedMemoryMib: used ?? null });
  if (!row.success) {
    ctx.addIssue({ code: "custom", message: `bad process row '${line}'` });
    return z.NEVER;
  }
  return row.data;
});

/** POSIX `df -PB1` data line: filesystem, size, used, available, capacity, mount point. */
const DfLineSchema = z.string().transform((line) => {
  const match = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+%\s+(\S.*)$/.exec(line.trim());
  if (!match) return { availableBytes: null, sizeBytes: null, mountPoint: null, raw: line };
  return {
    availableBytes: Number(match[4]),
    sizeBytes: Number(match[2]),
    mountPoint: match[5] ?? null,
    raw: line,
  };
});

/** Lines the script prints once, by key (the last wins), and those it prints per GPU / process. */
const RawReportSchema = z.object({
  smi_exit: IntSchema,
  smi_error: z.string().default(""),
  gpu: z.array(GpuRowSchema).default([]),
  cuda_version: z.string().trim().default(""),
  apps_exit: IntSchema.optional(),
  app: z.array(AppRowSchema).default([]),
  disk_path: z.string().min(1),
  df: DfLineSchema,
  torch_exit: IntSchema,
  torch: z.string().default(""),
  run_py: z.enum(["0", "1"]),
});

export const PreflightReportSchema = RawReportSchema.transform((raw) => ({
  nvidiaSmi: { exitCode: raw.smi_exit, error: raw.smi_error.trim() || null },
  gpus: raw.gpu,
  /** The highest CUDA version the driver supports, as nvidia-smi's banner says. */
  cudaVersion: /^\d+\.\d+/.exec(raw.cuda_version)?.[0] ?? null,
  /** Processes on the GPUs; null when nvidia-smi could not list them. */
  computeApps: raw.apps_exit === 0 ? raw.app : null,
  disk: { path: raw.disk_path, ...raw.df },
  torch: { exitCode: raw.torch_exit, output: raw.torch.trim() },
  runPy: raw.run_py === "1",
}));

export type PreflightReport = z.output<typeof PreflightReportSchema>;
export type PreflightGpu = PreflightReport["gpus"][number];

const MULTI = new Set(["gpu", "app"]);

/** Parses the script's stdout; throws `PreflightReportError` naming what is wrong. */
export function parsePreflightReport(stdout: string): PreflightReport {
  const lines = stdout.split("\n").map((line) => line.replace(/\r$/, ""));
  const start = lines.indexOf(REPORT_START);
  if (start < 0) throw new PreflightReportError("the host printed no pre-flight report");
  const end = lines.indexOf(REPORT_END, start + 1);
  if (end < 0) throw new PreflightReportError("the pre-flight report is cut short (no end mark)");
  const fields: Record<string, string | string[]> = {};
  for (const line of lines.slice(start + 1, end)) {
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (MULTI.has(key)) fields[key] = [...((fields[key] as string[] | undefined) ?? []), value];
    else fields[key] = value;
  }
  const parsed = PreflightReportSchema.safeParse(fields);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
    throw new PreflightReportError(`the pre-flight report does not parse: ${where}${issue?.message}`);
  }
  return parsed.data;
}
