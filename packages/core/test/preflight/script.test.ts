/**
 * The pre-flight script itself, run by a local bash exactly as the instance's shell would run the
 * command line (`preflightCommand`), with stand-in nvidia-smi / df / python programs on a PATH of
 * our own (the machine's own tools never decide the result): its output must parse, and each probe
 * must be read the way the host meant it — a missing nvidia-smi, a hanging one, a workspace that
 * does not exist yet, paths that need quoting.
 */
import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  evaluatePreflight,
  type PreflightRequirements,
  parsePreflightReport,
  preflightCommand,
} from "../../src/preflight";

const TOOLS = [
  "bash",
  "sh",
  "sed",
  "grep",
  "tr",
  "cut",
  "head",
  "tail",
  "dirname",
  "timeout",
  "sleep",
  "cat",
];

let dir: string;
let sys: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "preflight-script-"));
  sys = join(dir, "sys");
  await mkdir(sys);
  for (const tool of TOOLS) {
    const found = await which(tool);
    if (!found) throw new Error(`${tool} is needed to run the pre-flight script`);
    await symlink(found, join(sys, tool));
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function which(tool: string): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn("bash", ["-c", `command -v ${tool}`]);
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on("close", (code) => resolve(code === 0 ? out.trim() : null));
  });
}

/** A host: its own bin folder with stand-ins (each a bash script body), a workspace and ai-toolkit. */
async function host(name: string, programs: Record<string, string>, options: { runPy?: boolean } = {}) {
  const root = join(dir, name);
  const bin = join(root, "bin");
  const toolkit = join(root, "app", "ai toolkit's");
  await mkdir(bin, { recursive: true });
  await mkdir(toolkit, { recursive: true });
  if (options.runPy !== false) await writeFile(join(toolkit, "run.py"), "# ai-toolkit\n");
  for (const [program, body] of Object.entries(programs)) {
    await writeFile(join(bin, program), `#!${join(sys, "bash")}\n${body}\n`);
    await chmod(join(bin, program), 0o755);
  }
  const needs: PreflightRequirements = {
    gpuName: "RTX 4090",
    gpuCount: 1,
    minVramMb: 23_000,
    minCudaVersion: "13.0",
    minFreeDiskBytes: 40e9,
    // Not created: the script measures the nearest folder that exists.
    workspaceDir: join(root, "workspace", "jobs"),
    aiToolkitDir: toolkit,
    pythonCommand: "python",
  };
  return { root, bin, needs };
}

function run(bin: string, needs: PreflightRequirements, stepSeconds = 5): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(sys, "bash"), ["-c", preflightCommand(needs, stepSeconds)], {
      env: { PATH: `${bin}:${sys}` },
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", () => resolve(out));
  });
}

const HEALTHY_SMI = `case "$*" in
  *--query-gpu=*) echo "0, GPU-aaaa, 24564, 3, 580.95.05, NVIDIA GeForce RTX 4090" ;;
  *--query-compute-apps=*) ;;
  *) echo "| NVIDIA-SMI 580.95.05    Driver Version: 580.95.05    CUDA Version: 13.0 |" ;;
esac`;
const HEALTHY_DF = `echo "Filesystem 1-blocks Used Available Capacity Mounted on"
echo "overlay 64000000000 2000000000 62000000000 4% /"`;
const HEALTHY_PYTHON = `[ "$1" = "-c" ] || exit 2
echo "torch 2.13.0+cu130 cuda True devices 1"`;

describe("the pre-flight script on a shell", () => {
  it("reports a healthy host that passes, with paths that need quoting", async () => {
    const h = await host("healthy", { "nvidia-smi": HEALTHY_SMI, df: HEALTHY_DF, python: HEALTHY_PYTHON });
    const report = parsePreflightReport(await run(h.bin, h.needs));
    expect(report).toMatchObject({
      nvidiaSmi: { exitCode: 0 },
      gpus: [
        { index: 0, memoryTotalMib: 24564, driverVersion: "580.95.05", name: "NVIDIA GeForce RTX 4090" },
      ],
      cudaVersion: "13.0",
      computeApps: [],
      disk: { path: h.root, availableBytes: 62e9 },
      torch: { exitCode: 0 },
      runPy: true,
    });
    expect(evaluatePreflight(report, h.needs).passed).toBe(true);
  });

  it("a host without nvidia-smi, python or run.py fails on each, the rest still measured", async () => {
    const h = await host("bare", { df: HEALTHY_DF }, { runPy: false });
    const outcome = evaluatePreflight(parsePreflightReport(await run(h.bin, h.needs)), h.needs);
    expect(outcome).toMatchObject({
      passed: false,
      failures: [
        { condition: "gpu_missing", reason: expect.stringMatching(/^nvidia-smi is not installed/) },
        { condition: "torch_cuda_unavailable", reason: expect.stringMatching(/^python is not installed/) },
        { condition: "ai_toolkit_missing" },
      ],
      host: { freeDiskBytes: 62e9 },
    });
  });

  it("lists busy GPUs' processes, and passes what python said when CUDA is missing", async () => {
    const smi = `case "$*" in
  *--query-gpu=*) echo "0, GPU-aaaa, 24564, 20000, 580.95.05, NVIDIA GeForce RTX 4090" ;;
  *--query-compute-apps=*) echo "4242, GPU-aaaa, 19990" ;;
  *) echo "CUDA Version: 13.0" ;;
esac`;
    const python = `echo "torch 2.13.0+cpu cuda False devices 0"; exit 3`;
    const h = await host("busy", { "nvidia-smi": smi, df: HEALTHY_DF, python });
    const outcome = evaluatePreflight(parsePreflightReport(await run(h.bin, h.needs)), h.needs);
    expect(outcome.passed ? [] : outcome.failures).toEqual([
      {
        condition: "gpu_busy",
        reason: "another process is using the GPU: GPU 0: 1 process (pid 4242), 20000 MiB in use",
      },
      {
        condition: "torch_cuda_unavailable",
        reason: "PyTorch imports but CUDA is not available to it: torch 2.13.0+cpu cuda False devices 0",
      },
    ]);
  });

  it("a hanging nvidia-smi is stopped after the step timeout and counts as no GPU", async () => {
    const h = await host("hang", { "nvidia-smi": "sleep 30", df: HEALTHY_DF, python: HEALTHY_PYTHON });
    const started = Date.now();
    const report = parsePreflightReport(await run(h.bin, h.needs, 1));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(report.nvidiaSmi.exitCode).toBe(124);
    expect(evaluatePreflight(report, h.needs)).toMatchObject({
      failures: [{ condition: "gpu_missing", reason: expect.stringMatching(/did not answer in time/) }],
    });
  });
});
