/**
 * The `vast-sim` command as installed: its bin runs by its shebang from any folder, prints how instances
 * are confined, and, without bubblewrap, stops with one line saying what to install instead of starting
 * instances unconfined.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const packageDir = fileURLToPath(new URL("..", import.meta.url));

async function binPath(): Promise<string> {
  const pkg = JSON.parse(await readFile(join(packageDir, "package.json"), "utf8")) as {
    bin: Record<string, string>;
  };
  return join(packageDir, pkg.bin["vast-sim"] ?? "");
}

let child: ChildProcess | undefined;
let dir: string | undefined;

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child?.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
  child = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

function collect(process: ChildProcess): { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  process.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  process.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  return { out: () => out, err: () => err };
}

describe("the vast-sim command", () => {
  it("runs by its shebang from another folder and prints the instances' confinement", async () => {
    dir = await mkdtemp(join(tmpdir(), "vast-sim-cli-test-"));
    child = spawn(await binPath(), ["--port", "0"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    const output = collect(child);
    await expect.poll(output.out, { timeout: 20_000, interval: 100 }).toContain("Instances:");
    expect(output.out()).toMatch(/^vast-sim listening on http:\/\/127\.0\.0\.1:\d+$/m);
    expect(output.out()).toContain(
      "Instances: bubblewrap container per instance (user namespace, all capabilities dropped, no network",
    );
    expect(output.err()).toBe("");
  }, 30_000);

  it("without bubblewrap on PATH, exits 1 with one line naming it, its install command and the unsafe flag", async () => {
    dir = await mkdtemp(join(tmpdir(), "vast-sim-cli-test-"));
    // A PATH with node (for the shebang) and nothing else.
    await symlink(process.execPath, join(dir, "node"));
    child = spawn(await binPath(), ["--port", "0"], {
      cwd: dir,
      env: { PATH: dir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const output = collect(child);
    const code = await new Promise<number | null>((resolve) =>
      child?.once("exit", (exitCode) => resolve(exitCode)),
    );
    expect(code).toBe(1);
    expect(output.out()).toBe("");
    const lines = output.err().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("bubblewrap (bwrap) is not installed");
    expect(lines[0]).toContain("apt-get install -y --no-install-recommends bubblewrap");
    expect(lines[0]).toContain("--unsafe-no-sandbox");
  }, 30_000);
});
