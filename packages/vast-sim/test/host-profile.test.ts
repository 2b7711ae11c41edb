/**
 * Host profiles: what a simulated host looks like from inside its instance. A default host is
 * healthy (the offer's GPUs, idle, a CUDA 13 driver, the disk the create asked for, PyTorch with
 * CUDA, ai-toolkit's run.py at /workspace/ai-toolkit and /app/ai-toolkit); a `host_profile` fault
 * makes it fail each condition the orchestrator's pre-flight check looks at — checked here with
 * that very check, over SSH.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PreflightRequirements, runPreflight } from "../../core/src/preflight";
import { connectSsh } from "../../core/src/ssh";
import type { HostProfileInput, VastSim } from "../src/index";
import { cheapestOffer, instanceOf, type Offer, offersOf, type SimClient, startFrozenSim } from "./helpers";
import { newKeyPair, run } from "./ssh-client";

let sim: VastSim;
let vast: SimClient;
const account = newKeyPair();

beforeAll(async () => {
  ({ sim, vast } = await startFrozenSim({
    ssh: true,
    seed: 21,
    delays: { provisioningSeconds: 5, loadingSeconds: 10 },
  }));
  expect((await vast.call("POST", "/api/v0/ssh/", { ssh_key: account.publicKey })).status).toBe(200);
});
afterAll(() => sim.close());

/** The cheapest single-GPU 4090 on the market. */
async function cheapest4090(): Promise<Offer> {
  const found = offersOf(
    await vast.search({
      gpu_name: { eq: "RTX 4090" },
      num_gpus: { eq: 1 },
      order: [["dph_total", "asc"]],
      limit: 1,
    }),
  )[0];
  if (!found) throw new Error("no single-GPU 4090 offer left");
  return found;
}

/** Rents the cheapest single 4090 (64 GB disk) and waits until it runs; returns its id, machine and SSH port. */
async function rent(): Promise<{ id: number; machineId: number; port: number }> {
  const offer = await cheapest4090();
  const created = await vast.create(offer.id, { image: "ostris/aitoolkit:latest", disk: 64 });
  const id = created.json.new_contract as number;
  sim.admin.advance(15);
  const inst = instanceOf(await vast.show(id));
  expect(inst.actual_status).toBe("running");
  return { id, machineId: offer.machine_id as number, port: inst.ssh_port as number };
}

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

async function preflight(port: number, needs: Partial<PreflightRequirements> = {}) {
  const session = await connectSsh({
    host: "127.0.0.1",
    port,
    username: "root",
    privateKey: account.privateKey,
    retry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
  });
  try {
    return await runPreflight(session, { ...NEEDS, ...needs });
  } finally {
    await session.close();
  }
}

describe("a default host", () => {
  it("passes the pre-flight check: idle 4090, driver 580, the create's 64 GB, torch with CUDA, run.py", async () => {
    const { port } = await rent();
    const outcome = await preflight(port);
    expect(outcome).toMatchObject({
      passed: true,
      host: {
        gpus: [{ index: 0, name: "NVIDIA GeForce RTX 4090", memoryTotalMib: 24564, memoryUsedMib: 1 }],
        driverVersion: "580.95.05",
        cudaVersion: "13.0",
        torch: "torch 2.13.0+cu130 cuda True devices 1",
        aiToolkit: true,
      },
    });
    // The disk the create asked for, less what the instance folder holds.
    const free = outcome.host?.freeDiskBytes ?? 0;
    expect(free).toBeGreaterThan(63.9e9);
    expect(free).toBeLessThanOrEqual(64e9);
    expect((await preflight(port, { aiToolkitDir: "/workspace/ai-toolkit" })).passed).toBe(true);
  });

  it("df counts what the instance writes, in the block sizes asked for; the stand-in at /app is read-only", async () => {
    const { port } = await rent();
    const before = await run(port, account.privateKey, "df -PB1 /workspace | tail -n 1");
    await run(port, account.privateKey, "head -c 5000000 /dev/zero > /workspace/blob");
    const after = await run(port, account.privateKey, "df -PB1 -- /workspace | tail -n 1");
    const avail = (line: string) => Number(line.trim().split(/\s+/)[3]);
    expect(avail(before.stdout) - avail(after.stdout)).toBeGreaterThanOrEqual(5_000_000);
    const k = await run(port, account.privateKey, "df -Pk /workspace");
    expect(k.stdout).toMatch(
      /^Filesystem +1024-blocks +Used +Available +Capacity +Mounted on\noverlay +62500000 /,
    );
    expect((await run(port, account.privateKey, "df /nope")).code).toBe(1);
    const write = await run(port, account.privateKey, "echo x > /app/ai-toolkit/run.py || echo refused");
    expect(write.stdout).toContain("refused");
    const standIn = await run(
      port,
      account.privateKey,
      "cd /app/ai-toolkit && grep -c 'training stand-in' run.py",
    );
    expect(standIn.stdout.trim()).toBe("1");
  });
});

describe("host profiles make each pre-flight condition fail", () => {
  it.each<{ condition: string; profile: HostProfileInput; reason: RegExp }>([
    { condition: "gpu_missing", profile: { nvidiaSmi: "missing" }, reason: /not installed/ },
    {
      condition: "gpu_missing",
      profile: { nvidiaSmi: "no_driver" },
      reason: /exit code 9: NVIDIA-SMI has failed/,
    },
    { condition: "gpu_missing", profile: { gpuCount: 0 }, reason: /exit code 6: No devices were found/ },
    {
      condition: "gpu_model_mismatch",
      profile: { gpuName: "RTX 3090" },
      reason: /GPU 0 is NVIDIA GeForce RTX 3090/,
    },
    { condition: "gpu_count", profile: { gpuCount: 2 }, reason: /lists 2 GPUs, the offer has 1/ },
    { condition: "vram_insufficient", profile: { gpuRamMb: 16_376 }, reason: /GPU 0 has 16376 MiB/ },
    {
      condition: "gpu_busy",
      profile: { busyGpus: [0] },
      reason: /GPU 0: 1 process \(pid 4242\), \d+ MiB in use/,
    },
    {
      condition: "driver_too_old",
      profile: { driverVersion: "550.127.05" },
      reason: /driver 550\.127\.05 \(supports CUDA 12\.4\) is too old/,
    },
    {
      condition: "disk_insufficient",
      profile: { diskFreeBytes: 12e9 },
      reason: /^12\.0 GB .* free on \/workspace/,
    },
    { condition: "torch_cuda_unavailable", profile: { torch: "cpu" }, reason: /CUDA is not available/ },
    { condition: "torch_cuda_unavailable", profile: { torch: "missing" }, reason: /No module named 'torch'/ },
    {
      condition: "ai_toolkit_missing",
      profile: { aiToolkit: false },
      reason: /run\.py is not in \/app\/ai-toolkit/,
    },
    {
      condition: "report_unparseable",
      profile: { nvidiaSmi: "unknown_error" },
      reason: /bad GPU row '0, GPU-[0-9a-f-]+, \[Unknown Error\]/,
    },
  ])("$condition ($profile)", async ({ condition, profile, reason }) => {
    await sim.admin.addFault({ kind: "host_profile", profile });
    const { port } = await rent();
    const outcome = await preflight(port);
    const failures = outcome.passed ? [] : outcome.failures;
    expect(failures[0]).toEqual({ condition, reason: expect.stringMatching(reason) });
    // Without a GPU, PyTorch sees no CUDA either (as on a real host); otherwise nothing else fails.
    const alsoTorch = condition === "gpu_missing" ? ["torch_cuda_unavailable"] : [];
    expect(failures.slice(1).map((f) => f.condition)).toEqual(alsoTorch);
    // The profile was for that instance only: the next host is healthy again.
    expect((await preflight((await rent()).port)).passed).toBe(true);
  });

  it("a machine's profile holds for every rental of that machine until the fault is removed", async () => {
    const offer = await cheapest4090();
    const machineId = offer.machine_id as number;
    const { id } = await sim.admin.addFault({ kind: "host_profile", machineId, profile: { busyGpus: [0] } });
    const first = await rent();
    expect(first.machineId).toBe(machineId);
    expect((await preflight(first.port)).passed).toBe(false);
    await vast.destroy(first.id);
    // Relisted under a new ask: the cheapest again, the same machine, still busy.
    const second = await rent();
    expect(second.machineId).toBe(machineId);
    expect(await preflight(second.port)).toMatchObject({ failures: [{ condition: "gpu_busy" }] });
    expect(sim.admin.removeFault(id as number)).toBe(true);
    await vast.destroy(second.id);
    expect((await preflight((await rent()).port)).passed).toBe(true);
  });

  it("nvidia-smi's table and process list show the busy GPU and the driver's CUDA version", async () => {
    await sim.admin.addFault({
      kind: "host_profile",
      profile: { gpuCount: 2, busyGpus: [1], driverVersion: "570.144.0" },
    });
    const { port } = await rent();
    const table = await run(port, account.privateKey, "nvidia-smi");
    expect(table.stdout).toContain("CUDA Version: 12.8");
    expect(table.stdout).toMatch(/\|\s+1\s+N\/A\s+N\/A\s+4243\s+C\s+python3/);
    const apps = await run(
      port,
      account.privateKey,
      "nvidia-smi --query-compute-apps=pid,used_memory --format=csv",
    );
    // Three quarters of the card's memory, held by someone else's process.
    expect(apps.stdout).toMatch(/^pid, used_memory \[MiB\]\n4243, 18\d{3} MiB\n$/);
  });
});

describe("ai-toolkit folders", () => {
  it("can be placed elsewhere, inside or outside the instance folder", async () => {
    const other = await startFrozenSim({
      ssh: true,
      seed: 22,
      aiToolkitDirs: ["/root/tools/ai-toolkit", "/opt/ai-toolkit"],
      delays: { provisioningSeconds: 5, loadingSeconds: 10 },
    });
    try {
      await other.vast.call("POST", "/api/v0/ssh/", { ssh_key: account.publicKey });
      const offer = await cheapestOffer(other.sim);
      const id = (await other.vast.create(offer.id, { image: "img", disk: 20 })).json.new_contract as number;
      other.sim.admin.advance(15);
      const port = instanceOf(await other.vast.show(id)).ssh_port as number;
      const found = await run(
        port,
        account.privateKey,
        "ls /workspace/tools/ai-toolkit/run.py /opt/ai-toolkit/run.py; ls /app /workspace/ai-toolkit 2>&1 | wc -l",
      );
      expect(found.stdout).toBe("/opt/ai-toolkit/run.py\n/workspace/tools/ai-toolkit/run.py\n2\n");
    } finally {
      await other.sim.close();
    }
    await expect(startFrozenSim({ aiToolkitDirs: ["/workspace/../etc"] })).rejects.toThrow();
  });
});
