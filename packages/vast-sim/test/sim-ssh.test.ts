import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { VastSim } from "../src/index";
import { instanceOf, offersOf, type SimClient, startFrozenSim } from "./helpers";
import { loginRefused, newKeyPair, run } from "./ssh-client";

let sim: VastSim;
let vast: SimClient;
const account = newKeyPair();
const later = newKeyPair();
const stranger = newKeyPair();

beforeAll(async () => {
  ({ sim, vast } = await startFrozenSim({
    ssh: true,
    seed: 9,
    bandwidthUsdPerGb: 0.02,
    delays: { provisioningSeconds: 5, loadingSeconds: 10 },
  }));
  expect((await vast.call("POST", "/api/v0/ssh/", { ssh_key: account.publicKey })).status).toBe(200);
});
afterAll(() => sim.close());

const execFileP = promisify(execFile);
const SSH_OPTS = [
  "-o",
  "StrictHostKeyChecking=no",
  "-o",
  "UserKnownHostsFile=/dev/null",
  "-o",
  "BatchMode=yes",
  "-o",
  "LogLevel=ERROR",
];

async function withKeyFile<T>(privateKey: string, fn: (path: string, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "sim-ssh-test-"));
  const path = join(dir, "id");
  await writeFile(path, privateKey);
  await chmod(path, 0o600);
  try {
    return await fn(path, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The host port Vast maps to the instance's port 22. */
const sshPortOf = (inst: Record<string, unknown>) =>
  Number((inst.ports as Record<string, { HostPort: string }[]>)["22/tcp"]![0]!.HostPort);

/** Runs the system `ssh` client with a key file against an instance. */
const opensshRun = (keyPath: string, port: number, command: string) =>
  execFileP("ssh", [...SSH_OPTS, "-i", keyPath, "-p", String(port), "root@127.0.0.1", command]);

async function rentRunning(): Promise<{ id: number; port: number; inst: Record<string, unknown> }> {
  const offer = offersOf(
    await vast.search({ gpu_name: { eq: "RTX_4090" }, order: [["dph_total", "asc"]], limit: 1 }),
  )[0]!;
  const id = (await vast.create(offer.id, { image: "pytorch/pytorch", disk: 20 })).json
    .new_contract as number;
  sim.admin.advance(15);
  const inst = instanceOf(await vast.show(id));
  expect(inst.actual_status).toBe("running");
  const port = sshPortOf(inst);
  expect(inst.ssh_port).toBe(port);
  return { id, port, inst };
}

describe("SSH into a simulated instance", () => {
  it("accepts the account key at the advertised port, runs commands, and shows the rented GPU", async () => {
    const { port } = await rentRunning();
    const r = await run(port, account.privateKey, "echo hello; nvidia-smi");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("hello");
    expect(r.stdout).toContain("RTX 4090");
    expect(await loginRefused(port, stranger.privateKey)).toBe(true);
  });

  it("refuses connections before running, and accepts keys attached later", async () => {
    const offer = offersOf(await vast.search({ order: [["dph_total", "asc"]], limit: 1 }))[0]!;
    const id = (await vast.create(offer.id, { image: "img", disk: 10 })).json.new_contract as number;
    const port = instanceOf(await vast.show(id)).ssh_port as number;
    expect(await loginRefused(port, account.privateKey)).toBe(true);
    sim.admin.advance(15);
    expect(await loginRefused(port, later.privateKey)).toBe(true);
    await vast.call("POST", `/api/v0/instances/${id}/ssh/`, { ssh_key: later.publicKey });
    expect((await run(port, later.privateKey, "true")).code).toBe(0);
  });

  it("closes SSH on stop, re-opens it on start, closes it and removes the folder on destroy", async () => {
    const { id, port } = await rentRunning();
    await vast.manage(id, { state: "stopped" });
    expect(await loginRefused(port, account.privateKey)).toBe(true);
    await vast.manage(id, { state: "running" });
    sim.admin.advance(10);
    const again = instanceOf(await vast.show(id));
    const port2 = sshPortOf(again);
    expect((await run(port2, account.privateKey, "echo back")).stdout).toBe("back\n");
    const dir = sim.admin.instance(id)!.rootDir;
    expect(existsSync(dir)).toBe(true);
    await vast.destroy(id);
    expect(await loginRefused(port2, account.privateKey)).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });

  it("bills bytes pushed into the instance as bandwidth", async () => {
    const { id, port } = await rentRunning();
    const payload = Buffer.alloc(2_000_000, 7);
    const r = await run(port, account.privateKey, "cat > /root/blob && wc -c < /root/blob", payload);
    expect(r.stdout.trim()).toBe("2000000");
    const l = sim.admin.ledger().instances.find((x) => x.instanceId === id)!;
    expect(l.bytesReceived).toBeGreaterThanOrEqual(2_000_000);
    // 0.02 $/GB × bytes / 1e9
    expect(l.bandwidthMicros).toBe(Math.round((l.bytesReceived / 1e9) * 0.02 * 1e6));
    expect(l.bandwidthMicros).toBeGreaterThanOrEqual(40);
  });

  it("lets the system OpenSSH client in with the injected key (ssh, sftp), and refuses another key", async () => {
    const { id, port } = await rentRunning();
    await withKeyFile(account.privateKey, async (keyPath, dir) => {
      const { stdout } = await opensshRun(keyPath, port, "nvidia-smi");
      expect(stdout).toContain("RTX 4090");
      await writeFile(join(dir, "upload.txt"), "dataset bytes\n");
      await writeFile(join(dir, "batch"), `put ${join(dir, "upload.txt")} /workspace/upload.txt\n`);
      await execFileP("sftp", [
        ...SSH_OPTS,
        "-i",
        keyPath,
        "-P",
        String(port),
        "-b",
        join(dir, "batch"),
        "root@127.0.0.1",
      ]);
    });
    expect(await readFile(join(sim.admin.instance(id)!.rootDir, "upload.txt"), "utf8")).toBe(
      "dataset bytes\n",
    );
    await withKeyFile(stranger.privateKey, async (keyPath) => {
      const denied = await opensshRun(keyPath, port, "true").then(
        () => false,
        () => true,
      );
      expect(denied).toBe(true);
    });
  });

  it("runs the training stand-in as the admin sets it (fail on demand)", async () => {
    const { id, port } = await rentRunning();
    const config = [
      "job: extension",
      "config:",
      '  name: "lora_x"',
      "  process:",
      "    - type: 'sd_trainer'",
      '      training_folder: "/workspace/output"',
      "      train:",
      "        steps: 10",
      "",
    ].join("\n");
    await writeFile(join(sim.admin.instance(id)!.rootDir, "job.yml"), config);
    await sim.admin.setTrainingBehaviour(id, {
      durationSeconds: 0,
      fail: true,
      exitCode: 3,
      failMessage: "CUDA out of memory",
    });
    const failed = await run(
      port,
      account.privateKey,
      "cd /workspace/ai-toolkit && python run.py /workspace/job.yml 2>&1",
    );
    expect(failed.code).toBe(3);
    expect(failed.stdout).toContain("CUDA out of memory");
    await sim.admin.setTrainingBehaviour(id, { durationSeconds: 0, fail: false });
    const ok = await run(
      port,
      account.privateKey,
      "cd /workspace/ai-toolkit && python run.py /workspace/job.yml >/dev/null 2>&1; echo $?; ls /workspace/output/lora_x",
    );
    expect(ok.stdout).toContain("0\nlora_x.safetensors");
  });
});
