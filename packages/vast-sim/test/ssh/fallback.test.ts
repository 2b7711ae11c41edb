/**
 * Confinement modes other than the default container: bubblewrap per command (used when commands cannot
 * join a container; equally confined), and what happens without bubblewrap — the server refuses to start
 * and says what to install, never degrading to an unconfined shell. The unconfined mode exists only when
 * asked for by name (`--unsafe-no-sandbox`) and is never used here: it would run test commands on the host.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkConfinement, SandboxUnavailableError } from "../../src/ssh";
import { startTestInstance, type TestInstance } from "./support";

let t: TestInstance | undefined;

afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

describe("confinement modes", () => {
  it("bubblewrap per command keeps the /workspace view and the read-only system", async () => {
    t = await startTestInstance({ confinement: "bwrap-per-command" });
    expect(t.server.confinement).toBe("bwrap-per-command");
    // Opening an existing file for writing, without creating or truncating: nothing changes even if it opened.
    const result = await t.exec(
      "echo v > /workspace/v.txt; pwd; dd if=/dev/null of=/etc/passwd conv=notrunc,nocreat status=none || echo ro",
    );
    expect(result.stdout).toBe("/root\nro\n");
    expect(result.stderr).toContain("Read-only file system");
    expect(await readFile(join(t.rootDir, "v.txt"), "utf8")).toBe("v\n");
  });

  it("without bubblewrap, the server does not start: it names what to install and the unsafe flag", async () => {
    const dir = await mkdtemp(join(tmpdir(), "vast-sim-no-bwrap-"));
    try {
      const attempt = startTestInstance({ bwrap: join(dir, "no-such-bwrap") });
      await expect(attempt).rejects.toThrow(SandboxUnavailableError);
      await expect(attempt).rejects.toThrow(/bubblewrap \(.*no-such-bwrap\) is not installed/);
      await expect(attempt).rejects.toThrow("apt-get install -y --no-install-recommends bubblewrap");
      await expect(attempt).rejects.toThrow("--unsafe-no-sandbox");
      // The same check the simulator runs once at start, before any instance exists.
      await expect(checkConfinement({ bwrap: join(dir, "no-such-bwrap") })).rejects.toThrow(
        SandboxUnavailableError,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("reports the confinement this machine gives instances: a bubblewrap container", async () => {
    expect(await checkConfinement()).toBe("bwrap-container");
  });
});
