/** Starting and closing an instance server: folders, ports, and nothing left behind. */
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateHostKey, startInstanceSshServer } from "../../src/ssh";
import { runProcess, ssh, startTestInstance } from "./support";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "vast-sim-lifecycle-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = (rootDir: string) => ({
  instanceId: 987_654,
  rootDir,
  hostKey: generateHostKey(),
  authorizedKeys: () => [],
  gpu: { name: "A100 SXM4", count: 1, ramMb: 81920 },
  faults: () => ({ refuseConnections: false, dropAfterBytes: null }),
});

async function shimDirs(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => name.startsWith("vast-sim-shims-987654-"));
}

describe("instance server lifecycle", () => {
  it("creates a missing rootDir and removes its shim folder on close; close is idempotent", async () => {
    const rootDir = join(dir, "deep", "instance");
    const server = await startInstanceSshServer(base(rootDir));
    expect(existsSync(rootDir)).toBe(true);
    expect(server.port).toBeGreaterThan(0);
    expect(server.host).toBe("127.0.0.1");
    expect(await shimDirs()).toHaveLength(1);
    await Promise.all([server.close(), server.close()]);
    expect(await shimDirs()).toHaveLength(0);
    const probe = await runProcess("ssh", [
      "-p",
      String(server.port),
      "-o",
      "BatchMode=yes",
      "root@127.0.0.1",
      "true",
    ]);
    expect(probe.code).toBe(255);
  });

  it("rejects a port already in use and cleans up after itself", async () => {
    const first = await startInstanceSshServer(base(join(dir, "a")));
    try {
      await expect(startInstanceSshServer({ ...base(join(dir, "b")), port: first.port })).rejects.toThrow(
        /EADDRINUSE/,
      );
      expect(await shimDirs()).toHaveLength(1);
    } finally {
      await first.close();
    }
  });

  it("keeps files in the folder across a restart on the same host key", async () => {
    const t = await startTestInstance();
    await t.exec("echo kept > /workspace/kept.txt");
    const port = t.server.port;
    await t.server.close();
    const again = await startInstanceSshServer({
      instanceId: 4242,
      rootDir: t.rootDir,
      hostKey: t.hostKey,
      port,
      authorizedKeys: () => t.authorized,
      gpu: { name: "RTX 4090", count: 1, ramMb: 24564 },
      faults: () => t.faults,
    });
    try {
      expect(again.port).toBe(port);
      expect(again.hostKeyFingerprint).toBe(t.server.hostKeyFingerprint);
      expect((await ssh(again, t.key, "cat /root/kept.txt")).stdout).toBe("kept\n");
    } finally {
      await again.close();
      await t.cleanup();
    }
  });
});
