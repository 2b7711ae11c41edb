/**
 * A simulated instance is a safe neighbour: its commands run as root, yet in a user namespace without any
 * capability and without network, so they cannot write the host's system folders, remount or mount
 * anything, reach the host's loopback services or see its processes. CI runs this as root, where it matters.
 *
 * The probes never change a real host path, even if confinement were broken: writes to /etc and /usr open
 * an existing file for writing without creating or truncating it (a success would change nothing), and every
 * probe that would create, change or remount something goes to a folder this test owns, which the instance
 * sees read-only at its host path exactly as it sees /etc and /usr.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConfinementMode } from "../../src/ssh";
import { runProcess, startTestInstance, type TestInstance } from "./support";

const CONFINED: ConfinementMode[] = ["bwrap-container", "bwrap-per-command"];
const CANARY = `canary ${randomBytes(8).toString("hex")}\n`;

describe.each(CONFINED)("a root command in an instance confined by %s", (mode) => {
  let t: TestInstance;
  let owned: string;
  let target: string;

  beforeAll(async () => {
    owned = await mkdtemp(join(tmpdir(), "vast-sim-confinement-test-"));
    target = join(owned, "would-be-escape");
    await mkdir(target);
    await writeFile(join(target, "canary"), CANARY);
    t = await startTestInstance({ confinement: mode, readOnlyPaths: [target] });
    expect(t.server.confinement).toBe(mode);
  });

  afterAll(async () => {
    await t?.cleanup();
    if (owned) await rm(owned, { recursive: true, force: true });
  });

  /** The test-owned folder outside the instance is exactly as the test left it. */
  async function expectEscapeUntouched(): Promise<void> {
    expect(await readdir(target)).toEqual(["canary"]);
    expect(await readFile(join(target, "canary"), "utf8")).toBe(CANARY);
  }

  it("is root, holds no capability at all, and cannot gain one", async () => {
    const result = await t.exec("id -u; grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status");
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines[0]).toBe("0");
    const fields = Object.fromEntries(lines.slice(1).map((line) => line.split(/:\s+/) as [string, string]));
    expect(fields).toEqual({
      CapInh: "0000000000000000",
      CapPrm: "0000000000000000",
      CapEff: "0000000000000000",
      CapBnd: "0000000000000000",
      CapAmb: "0000000000000000",
      NoNewPrivs: "1",
    });
  });

  it("fails to write /etc and /usr, and to create, change or delete anything in a host folder it sees", async () => {
    const result = await t.exec(
      [
        `cat ${target}/canary`,
        "dd if=/dev/null of=/etc/passwd conv=notrunc,nocreat status=none; echo etc=$?",
        "dd if=/dev/null of=/usr/lib/os-release conv=notrunc,nocreat status=none; echo usr=$?",
        "[ -w /etc ]; echo etc-writable=$?",
        "[ -w /usr ]; echo usr-writable=$?",
        `touch ${target}/vast-sim-canary-${randomBytes(4).toString("hex")}; echo create=$?`,
        `echo changed > ${target}/canary; echo change=$?`,
        `rm -f ${target}/canary; echo delete=$?`,
        `mkdir ${target}/d; echo mkdir=$?`,
      ].join("\n"),
    );
    expect(result.stdout.trim().split("\n")).toEqual([
      // The would-be target target is in reach, so the failures below are refusals, not missing paths.
      CANARY.trim(),
      "etc=1",
      "usr=1",
      "etc-writable=1",
      "usr-writable=1",
      "create=1",
      "change=1",
      "delete=1",
      "mkdir=1",
    ]);
    expect(result.stderr).toContain("dd: failed to open '/etc/passwd': Read-only file system");
    expect(result.stderr).toContain("dd: failed to open '/usr/lib/os-release': Read-only file system");
    await expectEscapeUntouched();
  });

  it("fails to remount or mount anything", async () => {
    const result = await t.exec(
      [
        `test -f ${target}/canary; echo visible=$?`,
        "mount -o remount,bind,rw /usr; echo usr=$?",
        "mount -o remount,bind,rw /etc; echo etc=$?",
        `mount -o remount,bind,rw ${target}; echo target=$?`,
        "mount -t tmpfs none /var/tmp; echo tmpfs=$?",
        `mount --bind /workspace ${target}; echo bind=$?`,
        `touch ${target}/after-remount; echo create=$?`,
      ].join("\n"),
    );
    expect(result.stdout.trim().split("\n")).toEqual([
      "visible=0",
      "usr=32",
      "etc=32",
      "target=32",
      "tmpfs=32",
      "bind=32",
      "create=1",
    ]);
    expect(result.stderr).toContain("permission denied");
    await expectEscapeUntouched();
  });

  describe("and a loopback service of the host", () => {
    let server: Server;
    let port = 0;
    let connections = 0;

    beforeAll(async () => {
      server = createServer((socket) => {
        connections += 1;
        socket.destroy();
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const address = server.address();
      port = typeof address === "object" && address ? address.port : 0;
    });

    afterAll(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    const probe = (target: string) => `exec 3<>/dev/tcp/${target}/${port} && echo connected || echo refused`;

    it("is reachable from the host with the same probe", async () => {
      const before = connections;
      const host = await runProcess("bash", ["-c", probe("127.0.0.1")]);
      expect(host.stdout).toBe("connected\n");
      await expect.poll(() => connections).toBe(before + 1);
    });

    it("cannot be reached from inside the instance, directly or through the SSH server's forwarding", async () => {
      const before = connections;
      const inside = await t.exec(`${probe("127.0.0.1")}; ${probe("localhost")}`);
      expect(inside.stdout).toBe("refused\nrefused\n");
      const forwarded = await t.exec(null, { extraArgs: ["-W", `127.0.0.1:${port}`] });
      expect(forwarded.code).toBe(255);
      expect(forwarded.stderr).toContain("stdio forwarding failed");
      // Let any connection that did get through be counted before checking there was none.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(connections).toBe(before);
    });
  });

  it("sees none of the host's processes", async () => {
    // kill -0 only checks that the process exists and may be signalled; it sends nothing.
    const host = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const result = await t.exec(`kill -0 ${host.pid}; echo kill=$?; ls -d /proc/[0-9]* | wc -l`);
      const [kill, count] = result.stdout.trim().split("\n");
      expect(kill).toBe("kill=1");
      expect(Number(count)).toBeLessThan(10);
    } finally {
      host.kill("SIGKILL");
    }
  });
});
