/**
 * The pre-flight report parser and its judgement, condition by condition: a healthy host passes,
 * and each way a host can fail is named with its reason (several at once when several fail).
 */
import { describe, expect, it } from "vitest";
import {
  evaluatePreflight,
  gpuModelKey,
  minimumDriverFor,
  PreflightReportError,
  type PreflightRequirements,
  parsePreflightReport,
  runPreflight,
  sameGpuModel,
} from "../../src/preflight";
import { type ExecResult, SshChannelError, type SshSession } from "../../src/ssh";

const NEEDS: PreflightRequirements = {
  gpuName: "RTX 4090",
  gpuCount: 1,
  minVramMb: 23_000,
  minCudaVersion: "13.0",
  minFreeDiskBytes: 40e9,
  workspaceDir: "/workspace",
  aiToolkitDir: "/app/ai-toolkit",
  pythonCommand: "python",
};

const UUID0 = "GPU-5eed0000-5151-4a2c-9d1e-0000000a11ce";
const UUID1 = "GPU-5eed0001-5151-4a2c-9d1e-0000000a11cf";

interface Host {
  lines?: string[];
  gpus?: string[];
  apps?: string[];
  cuda?: string;
  df?: string;
  torchExit?: number;
  torch?: string;
  runPy?: boolean;
}

/** The script's output for a host, healthy unless told otherwise. */
function output(host: Host = {}): string {
  const gpus = host.gpus ?? [`0, ${UUID0}, 24564, 1, 580.95.05, NVIDIA GeForce RTX 4090`];
  return [
    "vast-rental-preflight=1",
    ...(host.lines ?? [
      "smi_exit=0",
      ...gpus.map((g) => `gpu=${g}`),
      `cuda_version=${host.cuda ?? "13.0"}`,
      "apps_exit=0",
      ...(host.apps ?? []).map((a) => `app=${a}`),
    ]),
    "disk_path=/workspace",
    `df=${host.df ?? "overlay 64000000000 1000000000 63000000000 2% /"}`,
    `torch_exit=${host.torchExit ?? 0}`,
    `torch=${host.torch ?? "torch 2.13.0+cu130 cuda True devices 1"}`,
    `run_py=${host.runPy === false ? 0 : 1}`,
    "end=1",
    "",
  ].join("\n");
}

const judge = (host: Host = {}, needs: Partial<PreflightRequirements> = {}) =>
  evaluatePreflight(parsePreflightReport(output(host)), { ...NEEDS, ...needs });

const conditions = (host: Host = {}, needs: Partial<PreflightRequirements> = {}) => {
  const outcome = judge(host, needs);
  return outcome.passed ? [] : outcome.failures.map((f) => f.condition);
};

describe("parsePreflightReport", () => {
  it("reads a healthy host's report into typed fields", () => {
    const report = parsePreflightReport(output());
    expect(report).toEqual({
      nvidiaSmi: { exitCode: 0, error: null },
      gpus: [
        {
          index: 0,
          uuid: UUID0,
          memoryTotalMib: 24564,
          memoryUsedMib: 1,
          driverVersion: "580.95.05",
          name: "NVIDIA GeForce RTX 4090",
        },
      ],
      cudaVersion: "13.0",
      computeApps: [],
      disk: {
        path: "/workspace",
        availableBytes: 63e9,
        sizeBytes: 64e9,
        mountPoint: "/",
        raw: "overlay 64000000000 1000000000 63000000000 2% /",
      },
      torch: { exitCode: 0, output: "torch 2.13.0+cu130 cuda True devices 1" },
      runPy: true,
    });
  });

  it("skips what a login shell prints before the report, and carriage returns", () => {
    const text = `Welcome to your instance!\nmotd line=2\n${output().replaceAll("\n", "\r\n")}`;
    expect(parsePreflightReport(text).gpus).toHaveLength(1);
  });

  it("accepts memory with MiB units (a host ignoring nounits) and [N/A]", () => {
    const report = parsePreflightReport(
      output({ gpus: [`0, ${UUID0}, 81920 MiB, [N/A], 580.65.06, NVIDIA A100-SXM4-80GB, rev 2`] }),
    );
    expect(report.gpus[0]).toMatchObject({
      memoryTotalMib: 81920,
      memoryUsedMib: null,
      name: "NVIDIA A100-SXM4-80GB, rev 2",
    });
  });

  it("refuses output without the report, cut short, or with a malformed field", () => {
    expect(() => parsePreflightReport("bash: line 1: nvidia: command not found\n")).toThrow(
      PreflightReportError,
    );
    expect(() => parsePreflightReport(output().replace("end=1", ""))).toThrow(/cut short/);
    expect(() => parsePreflightReport(output({ gpus: ["0, x, lots, 1, 580.95.05, RTX"] }))).toThrow(
      /gpu.*not a MiB amount/,
    );
    expect(() => parsePreflightReport(output().replace("torch_exit=0", "torch_exit=yes"))).toThrow(
      /torch_exit/,
    );
    expect(() => parsePreflightReport(output().replace("run_py=1\n", ""))).toThrow(/run_py/);
  });
});

describe("evaluatePreflight", () => {
  it("passes a healthy host and describes it", () => {
    expect(judge()).toEqual({
      passed: true,
      host: {
        gpus: [{ index: 0, name: "NVIDIA GeForce RTX 4090", memoryTotalMib: 24564, memoryUsedMib: 1 }],
        driverVersion: "580.95.05",
        cudaVersion: "13.0",
        freeDiskBytes: 63e9,
        torch: "torch 2.13.0+cu130 cuda True devices 1",
        aiToolkit: true,
      },
    });
  });

  it("gpu_missing: nvidia-smi not installed, failing, or listing nothing — and nothing else about GPUs", () => {
    const missing = judge({ lines: ["smi_exit=127", "smi_error=bash: nvidia-smi: command not found"] });
    expect(missing).toMatchObject({
      passed: false,
      failures: [
        { condition: "gpu_missing", reason: expect.stringMatching(/not installed.*command not found/) },
      ],
    });
    const driver = judge({
      lines: [
        "smi_exit=9",
        "smi_error=NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
      ],
    });
    expect(driver).toMatchObject({
      failures: [
        { condition: "gpu_missing", reason: expect.stringMatching(/exit code 9: NVIDIA-SMI has failed/) },
      ],
    });
    expect(conditions({ lines: ["smi_exit=6", "smi_error=No devices were found"] })).toEqual(["gpu_missing"]);
    expect(conditions({ gpus: [] })).toEqual(["gpu_missing"]);
    expect(conditions({ lines: ["smi_exit=124", "smi_error="] })).toEqual(["gpu_missing"]);
  });

  it("gpu_count: fewer or more GPUs than the offer", () => {
    expect(judge({}, { gpuCount: 2 })).toMatchObject({
      failures: [{ condition: "gpu_count", reason: "nvidia-smi lists 1 GPU, the offer has 2" }],
    });
    const two = [
      `0, ${UUID0}, 24564, 1, 580.95.05, NVIDIA GeForce RTX 4090`,
      `1, ${UUID1}, 24564, 1, 580.95.05, NVIDIA GeForce RTX 4090`,
    ];
    expect(conditions({ gpus: two })).toEqual(["gpu_count"]);
    expect(conditions({ gpus: two }, { gpuCount: 2 })).toEqual([]);
  });

  it("gpu_model_mismatch: another model than the offer, named per GPU; no name asked = any model", () => {
    const other = { gpus: [`0, ${UUID0}, 24576, 1, 580.95.05, NVIDIA GeForce RTX 3090`] };
    expect(judge(other)).toMatchObject({
      failures: [
        {
          condition: "gpu_model_mismatch",
          reason: "GPU 0 is NVIDIA GeForce RTX 3090; the offer was RTX 4090",
        },
      ],
    });
    expect(conditions(other, { gpuName: undefined })).toEqual([]);
  });

  it("vram_insufficient: each GPU against the template's MiB, unknown memory included", () => {
    expect(judge({}, { minVramMb: 40_000 })).toMatchObject({
      failures: [
        {
          condition: "vram_insufficient",
          reason: "GPU 0 has 24564 MiB; the template needs 40000 MiB per GPU",
        },
      ],
    });
    expect(conditions({ gpus: [`0, ${UUID0}, [N/A], 1, 580.95.05, NVIDIA GeForce RTX 4090`] })).toEqual([
      "vram_insufficient",
    ]);
    expect(conditions({}, { minVramMb: 24_564 })).toEqual([]);
  });

  it("gpu_busy: two GPUs, one with another tenant's process and memory; a display's few hundred MiB is fine", () => {
    const gpus = [
      `0, ${UUID0}, 24564, 410, 580.95.05, NVIDIA GeForce RTX 4090`,
      `1, ${UUID1}, 24564, 18000, 580.95.05, NVIDIA GeForce RTX 4090`,
    ];
    const busy = judge({ gpus, apps: [`4242, ${UUID1}, 17990`] }, { gpuCount: 2 });
    expect(busy).toMatchObject({
      passed: false,
      failures: [
        {
          condition: "gpu_busy",
          reason: "another process is using the GPU: GPU 1: 1 process (pid 4242), 18000 MiB in use",
        },
      ],
    });
    // Invisible processes (another container's) still show as memory in use.
    expect(conditions({ gpus }, { gpuCount: 2 })).toEqual(["gpu_busy"]);
    // A process listed on no GPU we know still shares the card.
    expect(conditions({ apps: ["777, GPU-unknown, 100"] })).toEqual(["gpu_busy"]);
    expect(conditions({ gpus: gpus.slice(0, 1) })).toEqual([]);
  });

  it("driver_too_old: the driver branch against the image's CUDA, and the CUDA version nvidia-smi reports", () => {
    const old = { gpus: [`0, ${UUID0}, 24564, 1, 570.144.0, NVIDIA GeForce RTX 4090`], cuda: "12.8" };
    expect(judge(old)).toMatchObject({
      failures: [
        {
          condition: "driver_too_old",
          reason:
            "driver 570.144.0 (supports CUDA 12.8) is too old: the image needs CUDA 13.0, driver 580 or newer",
        },
      ],
    });
    expect(conditions(old, { minCudaVersion: "12.8" })).toEqual([]);
    expect(conditions(old, { minCudaVersion: "12.4" })).toEqual([]);
    // A CUDA newer than the table: only the reported version can tell.
    expect(conditions({ cuda: "13.1" }, { minCudaVersion: "13.1" })).toEqual([]);
    expect(conditions({ cuda: "13.0" }, { minCudaVersion: "13.1" })).toEqual(["driver_too_old"]);
    expect(conditions({ cuda: "" }, { minCudaVersion: "13.1" })).toEqual(["driver_too_old"]);
    // The table says the branch is fine but the driver itself reports less: not trusted.
    expect(conditions({ cuda: "12.4" })).toEqual(["driver_too_old"]);
  });

  it("disk_insufficient: free bytes of the workspace against dataset + cache + outputs, or df unreadable", () => {
    const small = judge({ df: "overlay 64000000000 54000000000 10000000000 85% /" });
    expect(small).toMatchObject({
      failures: [
        {
          condition: "disk_insufficient",
          reason: "10.0 GB (9.3 GiB) free on /workspace; the dataset, model cache and outputs need 40.0 GB",
        },
      ],
    });
    expect(conditions({ df: "df: /workspace: No such file or directory" })).toEqual(["disk_insufficient"]);
    expect(conditions({ df: "" })).toEqual(["disk_insufficient"]);
  });

  it("torch_cuda_unavailable: no CUDA, no torch, no python, or too slow", () => {
    expect(judge({ torchExit: 3, torch: "torch 2.13.0+cpu cuda False devices 0" })).toMatchObject({
      failures: [
        {
          condition: "torch_cuda_unavailable",
          reason: "PyTorch imports but CUDA is not available to it: torch 2.13.0+cpu cuda False devices 0",
        },
      ],
    });
    expect(judge({ torchExit: 1, torch: "ModuleNotFoundError: No module named 'torch'" })).toMatchObject({
      failures: [
        { reason: expect.stringMatching(/^python could not import PyTorch \(exit 1\): ModuleNotFound/) },
      ],
    });
    expect(conditions({ torchExit: 127, torch: "" })).toEqual(["torch_cuda_unavailable"]);
    expect(conditions({ torchExit: 124, torch: "" })).toEqual(["torch_cuda_unavailable"]);
  });

  it("ai_toolkit_missing: no run.py in the template's ai-toolkit folder", () => {
    expect(judge({ runPy: false })).toMatchObject({
      failures: [
        { condition: "ai_toolkit_missing", reason: "ai-toolkit's run.py is not in /app/ai-toolkit" },
      ],
    });
  });

  it("lists every failed condition at once, in a fixed order", () => {
    const bad = {
      gpus: [`0, ${UUID0}, 12288, 9000, 535.104.05, NVIDIA GeForce RTX 3060`],
      cuda: "12.2",
      df: "overlay 64000000000 60000000000 4000000000 94% /",
      torchExit: 3,
      runPy: false,
    };
    expect(conditions(bad, { gpuCount: 2 })).toEqual([
      "gpu_count",
      "gpu_model_mismatch",
      "vram_insufficient",
      "gpu_busy",
      "driver_too_old",
      "disk_insufficient",
      "torch_cuda_unavailable",
      "ai_toolkit_missing",
    ]);
  });
});

describe("GPU model names: Vast's gpu_name against nvidia-smi's", () => {
  it.each([
    ["RTX 4090", "NVIDIA GeForce RTX 4090"],
    ["RTX 4090D", "NVIDIA GeForce RTX 4090 D"],
    ["RTX 4080S", "NVIDIA GeForce RTX 4080 SUPER"],
    ["RTX 4070S Ti", "NVIDIA GeForce RTX 4070 Ti SUPER"],
    ["RTX 6000Ada", "NVIDIA RTX 6000 Ada Generation"],
    ["RTX A6000", "NVIDIA RTX A6000"],
    ["RTX PRO 6000", "NVIDIA RTX PRO 6000 Blackwell Workstation Edition"],
    ["Q RTX 8000", "Quadro RTX 8000"],
    ["A100 SXM4", "NVIDIA A100-SXM4-80GB"],
    ["A100 PCIE", "NVIDIA A100 80GB PCIe"],
    ["H100 SXM", "NVIDIA H100 80GB HBM3"],
    ["H100 NVL", "NVIDIA H100 NVL"],
    ["GH200 SXM", "NVIDIA GH200 480GB"],
    ["Tesla V100", "Tesla V100-SXM2-32GB"],
    ["RTX 3060 laptop", "NVIDIA GeForce RTX 3060 Laptop GPU"],
    ["GTX 1660 S", "NVIDIA GeForce GTX 1660 SUPER"],
  ])("%s is %s", (offer, reported) => {
    expect(sameGpuModel(offer, reported)).toBe(true);
  });

  it.each([
    ["RTX 4090", "NVIDIA GeForce RTX 4090 D"],
    ["RTX 3060", "NVIDIA GeForce RTX 3060 Ti"],
    ["L40", "NVIDIA L40S"],
    ["A10", "NVIDIA A100-PCIE-40GB"],
    ["RTX A6000", "NVIDIA RTX 6000 Ada Generation"],
    ["RTX 4080", "NVIDIA GeForce RTX 4080 SUPER"],
  ])("%s is not %s", (offer, reported) => {
    expect(sameGpuModel(offer, reported)).toBe(false);
  });

  it("keys ignore brand, memory size and form factor", () => {
    expect(gpuModelKey("NVIDIA A100-SXM4-80GB")).toBe("100 a");
  });
});

describe("minimumDriverFor", () => {
  it("maps CUDA releases to driver branches, rounding up to the next known release", () => {
    expect(minimumDriverFor("13.0")).toBe(580);
    expect(minimumDriverFor("12.8")).toBe(570);
    expect(minimumDriverFor("12.4")).toBe(550);
    expect(minimumDriverFor("12.1")).toBe(530);
    expect(minimumDriverFor("12.7")).toBe(570);
    expect(minimumDriverFor("11.0")).toBe(520);
    expect(minimumDriverFor("14.0")).toBeNull();
  });
});

describe("runPreflight", () => {
  /** A session that answers every exec with `result` (only exec is used by the check). */
  const sessionAnswering = (result: Partial<ExecResult>) => {
    const commands: string[] = [];
    const session = {
      exec: async (command: string) => {
        commands.push(command);
        return {
          exitCode: 0,
          signal: null,
          stdout: "",
          stderr: "",
          stdoutTruncated: false,
          stderrTruncated: false,
          ...result,
        };
      },
    } as unknown as SshSession;
    return { session, commands };
  };

  it("judges what the host printed, from one quoted command", async () => {
    const { session, commands } = sessionAnswering({ stdout: output() });
    expect(await runPreflight(session, { ...NEEDS, aiToolkitDir: "/app/ai toolkit's" })).toMatchObject({
      passed: true,
    });
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatch(
      /^bash -c '.*' preflight '\/workspace' '\/app\/ai toolkit'\\''s' 'python' '20'$/s,
    );
  });

  it("output that is no report fails the host as report_unparseable, with the exit and stderr", async () => {
    const { session } = sessionAnswering({ exitCode: 127, stdout: "", stderr: "sh: 1: bash: not found\n" });
    expect(await runPreflight(session, NEEDS)).toEqual({
      passed: false,
      failures: [
        {
          condition: "report_unparseable",
          reason: "the host printed no pre-flight report (exit 127: sh: 1: bash: not found)",
        },
      ],
      host: null,
    });
  });

  it("a command that ended without a status is the transport's failure, not the host's", async () => {
    const { session } = sessionAnswering({ exitCode: null, stdout: "vast-rental-preflight=1\n" });
    await expect(runPreflight(session, NEEDS)).rejects.toThrow(SshChannelError);
  });
});
