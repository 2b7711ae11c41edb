/**
 * The instance SSH server driven by the system's OpenSSH clients (ssh, sftp), as the orchestrator and
 * users reach a Vast instance.
 */
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pollUntil } from "../../../../test/support/poll";
import { RUN_PY } from "../../src/ssh/shims";
import { clientOptions, runProcess, sftpBatch, ssh, startTestInstance, type TestInstance } from "./support";

let t: TestInstance;

beforeAll(async () => {
  process.env.VAST_SIM_TEST_HOST_SECRET = "host-secret-value";
  t = await startTestInstance({ env: { CONTAINER_ID: "4242", PUBLIC_IPADDR: "127.0.0.1" } });
});

afterAll(async () => {
  delete process.env.VAST_SIM_TEST_HOST_SECRET;
  await t?.cleanup();
});

describe("instance SSH server with the OpenSSH client", () => {
  it("confines commands with bubblewrap on this machine", () => {
    expect(t.server.confinement).toBe("bwrap-container");
  });

  it("runs nvidia-smi from PATH, printing the rented GPUs", async () => {
    const result = await t.exec("nvidia-smi");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("NVIDIA GeForce RTX 4090");
    expect(result.stdout).toContain("24564MiB");
    expect(result.stdout.match(/RTX 4090/g)).toHaveLength(2);

    const query = await t.exec("nvidia-smi --query-gpu=name,memory.total --format=csv,noheader");
    expect(query.stdout.trim().split("\n")).toEqual([
      "NVIDIA GeForce RTX 4090, 24564 MiB",
      "NVIDIA GeForce RTX 4090, 24564 MiB",
    ]);
  });

  it("propagates the exit code and keeps stdout and stderr apart", async () => {
    const result = await t.exec("echo out; echo err >&2; exit 7");
    expect(result.code).toBe(7);
    expect(result.stdout).toBe("out\n");
    expect(result.stderr).toContain("err\n");
  });

  it("serves a shell without a pty, reading commands from stdin", async () => {
    const result = await t.exec(null, {
      input: "cd /workspace\necho from-shell $PWD\nexit 3\n",
      extraArgs: ["-T"],
    });
    expect(result.stdout).toBe("from-shell /workspace\n");
    expect(result.code).toBe(3);
  });

  it("streams stdin to the command", async () => {
    const payload = randomBytes(200_000);
    const result = await t.exec("cat > /workspace/stdin.bin && wc -c < /root/stdin.bin", {
      input: payload,
    });
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe("200000");
    expect((await readFile(join(t.rootDir, "stdin.bin"))).equals(payload)).toBe(true);
  });

  it("maps /workspace and /root onto the instance folder, with cwd and HOME at /root", async () => {
    const result = await t.exec('echo hello > /workspace/x && pwd && echo "$HOME" && cat /root/x');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("/root\n/root\nhello\n");
    expect(await readFile(join(t.rootDir, "x"), "utf8")).toBe("hello\n");
  });

  it("uploads with sftp -b into the instance folder", async () => {
    const local = join(t.dir, "upload.txt");
    await writeFile(local, "uploaded by sftp\n");
    const result = await sftpBatch(
      t,
      `put ${local} /workspace/uploaded.txt\nput ${local} relative.txt\nls -1\n`,
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(await readFile(join(t.rootDir, "uploaded.txt"), "utf8")).toBe("uploaded by sftp\n");
    // The SFTP session starts in /root, which is the same folder.
    expect(await readFile(join(t.rootDir, "relative.txt"), "utf8")).toBe("uploaded by sftp\n");
    expect(result.stdout).toContain("ai-toolkit");
  });

  it("cannot write the system folders outside the instance folder (probed without creating anything)", async () => {
    // Each probe opens an existing file for writing without creating or truncating it: even on a machine
    // where confinement failed, nothing on the host would change. confinement.test.ts probes creating,
    // changing, deleting and remounting against a folder the test owns.
    const result = await t.exec(
      [
        "dd if=/dev/null of=/etc/passwd conv=notrunc,nocreat status=none; echo etc=$?",
        "dd if=/dev/null of=/usr/lib/os-release conv=notrunc,nocreat status=none; echo usr=$?",
        "echo x > /workspace/inside.txt; echo workspace=$?",
      ].join("\n"),
    );
    expect(result.stdout).toBe("etc=1\nusr=1\nworkspace=0\n");
    expect(result.stderr).toContain("Read-only file system");
    expect(await readFile(join(t.rootDir, "inside.txt"), "utf8")).toBe("x\n");
  });

  it("refuses a key that is not authorized", async () => {
    const result = await ssh(t.server, t.otherKey, "echo in");
    expect(result.code).toBe(255);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("Permission denied (publickey)");
  });

  it("accepts a key authorized later, without a restart", async () => {
    t.authorized.push(`no-pty ${t.otherKey.publicLine}`);
    try {
      const result = await ssh(t.server, t.otherKey, "echo in");
      expect(result.code).toBe(0);
      expect(result.stdout).toBe("in\n");
    } finally {
      t.authorized.pop();
    }
    expect((await ssh(t.server, t.otherKey, "echo in")).code).toBe(255);
  });

  it("refuses users other than root", async () => {
    const result = await runProcess("ssh", [
      "-p",
      String(t.server.port),
      ...clientOptions(t.key),
      `ubuntu@${t.server.host}`,
      "true",
    ]);
    expect(result.code).toBe(255);
  });

  it("presents the host key whose fingerprint it reports", async () => {
    const result = await t.exec("true", { extraArgs: ["-v"] });
    expect(result.code).toBe(0);
    const shown = /Server host key: ssh-ed25519 (SHA256:\S+)/.exec(result.stderr)?.[1];
    expect(shown).toBe(t.server.hostKeyFingerprint);
  });

  it("passes the instance environment but none of the host's", async () => {
    const result = await t.exec(
      'echo "$CONTAINER_ID [$VAST_SIM_TEST_HOST_SECRET] $USER $(hostname)"; echo "$PATH"',
    );
    const [first, path] = result.stdout.split("\n");
    expect(first).toBe("4242 [] root C.4242");
    expect(path?.startsWith("/opt/vast-sim/bin:")).toBe(true);
  });

  it("keeps detached jobs running after the session ends, like a container", async () => {
    const result = await t.exec(
      "nohup bash -c 'sleep 0.3; echo late > /workspace/late.txt' > /dev/null 2>&1 &",
    );
    expect(result.code).toBe(0);
    const content = await pollUntil(() =>
      readFile(join(t.rootDir, "late.txt"), "utf8").catch(() => undefined),
    );
    expect(content).toBe("late\n");
  });

  it("runs other python invocations with the real python3", async () => {
    const result = await t.exec("python3 -c 'print(6 * 7)' && python -c 'print(1)'");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("42\n1\n");
  });

  it("serves the training stand-in at /workspace/ai-toolkit/run.py", async () => {
    const result = await t.exec("cat /workspace/ai-toolkit/run.py");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(RUN_PY);
  });
});
