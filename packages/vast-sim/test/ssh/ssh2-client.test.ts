/**
 * The instance SSH server driven by the ssh2 client, as the orchestrator's transport uses it: exec with
 * exit codes and streamed stdin, SFTP, and host keys in both PEM flavours.
 */
import { createHash, generateKeyPairSync } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestInstance, type TestInstance } from "./support";

let t: TestInstance;
let client: ssh2.Client;

function connect(instance: TestInstance, hostKeys: Buffer[] = []): Promise<ssh2.Client> {
  return readFile(instance.key.path, "utf8").then(
    (privateKey) =>
      new Promise((resolve, reject) => {
        const c = new ssh2.Client();
        c.on("ready", () => resolve(c)).on("error", reject);
        c.connect({
          host: instance.server.host,
          port: instance.server.port,
          username: "root",
          privateKey,
          hostVerifier: (key: Buffer) => {
            hostKeys.push(key);
            return true;
          },
        });
      }),
  );
}

function exec(c: ssh2.Client, command: string, input?: Buffer): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    c.exec(command, (error, channel) => {
      if (error) return reject(error);
      let stdout = "";
      let code = -1;
      channel.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      channel.stderr.on("data", () => {});
      channel.on("exit", (exitCode: number) => {
        code = exitCode;
      });
      channel.on("close", () => resolve({ code, stdout }));
      channel.end(input);
    });
  });
}

beforeAll(async () => {
  t = await startTestInstance();
  client = await connect(t);
});

afterAll(async () => {
  client?.end();
  await t?.cleanup();
});

describe("instance SSH server with the ssh2 client", () => {
  it("execs commands with their exit status", async () => {
    expect(await exec(client, "nvidia-smi -L")).toEqual({
      code: 0,
      stdout: expect.stringContaining("GPU 1: NVIDIA GeForce RTX 4090"),
    });
    expect((await exec(client, "exit 42")).code).toBe(42);
  });

  it("runs several channels on one connection at once", async () => {
    // Each command waits (up to 2 s) for the other two's files: run one after another, none would see all three.
    const all = "[ -f /workspace/par-1 ] && [ -f /workspace/par-2 ] && [ -f /workspace/par-3 ]";
    const command = (n: number) =>
      `echo ${n} > /workspace/par-${n}; for i in $(seq 200); do ${all} && break; sleep 0.01; done; ` +
      `echo "${n} saw $(ls /workspace | grep -c '^par-')"`;
    const results = await Promise.all([1, 2, 3].map((n) => exec(client, command(n))));
    expect(results.map((r) => r.stdout.trim())).toEqual(["1 saw 3", "2 saw 3", "3 saw 3"]);
  });

  it("streams stdin, e.g. a tar archive unpacked in the instance", async () => {
    const tar = await new Promise<Buffer>((resolve, reject) => {
      // A small archive made by the instance itself, unpacked again elsewhere.
      client.exec(
        "mkdir -p /tmp/src && echo data > /tmp/src/f.txt && tar -C /tmp -c src",
        (error, channel) => {
          if (error) return reject(error);
          const parts: Buffer[] = [];
          channel.on("data", (chunk: Buffer) => parts.push(chunk));
          channel.on("close", () => resolve(Buffer.concat(parts)));
        },
      );
    });
    expect(tar.length).toBeGreaterThan(512);
    const unpack = await exec(client, "mkdir -p /workspace/unpacked && tar -C /workspace/unpacked -x", tar);
    expect(unpack.code).toBe(0);
    expect(await readFile(join(t.rootDir, "unpacked", "src", "f.txt"), "utf8")).toBe("data\n");
  });

  it("serves SFTP in the same view", async () => {
    const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) =>
      client.sftp((error, s) => (error ? reject(error) : resolve(s))),
    );
    await new Promise<void>((resolve, reject) =>
      sftp.writeFile("/workspace/via-sftp.txt", "sftp data", (error) => (error ? reject(error) : resolve())),
    );
    expect(await readFile(join(t.rootDir, "via-sftp.txt"), "utf8")).toBe("sftp data");
    const list = await new Promise<string[]>((resolve, reject) =>
      sftp.readdir("/root", (error, entries) =>
        error ? reject(error) : resolve(entries.map((e) => e.filename)),
      ),
    );
    expect(list).toContain("via-sftp.txt");
    const denied = await new Promise<Error | undefined>((resolve) =>
      sftp.writeFile("/etc/vast-sim-sftp-probe", "x", (error) => resolve(error ?? undefined)),
    );
    expect(denied).toBeInstanceOf(Error);
    sftp.end();
  });

  it("rejects password authentication", async () => {
    const error = await new Promise<Error>((resolve) => {
      const c = new ssh2.Client();
      c.on("ready", () => {
        c.end();
        resolve(new Error("unexpectedly authenticated"));
      });
      c.on("error", resolve);
      c.connect({ host: t.server.host, port: t.server.port, username: "root", password: "root" });
    });
    expect(error.message).toMatch(/authentication methods failed/);
  });

  it("accepts a PKCS#8 ed25519 host key from node:crypto and keeps it stable", async () => {
    const pem = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const first = await startTestInstance({ hostKey: pem });
    const second = await startTestInstance({ hostKey: pem });
    try {
      expect(first.server.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
      expect(second.server.hostKeyFingerprint).toBe(first.server.hostKeyFingerprint);
      const seen: Buffer[] = [];
      const c = await connect(first, seen);
      c.end();
      expect(seen).toHaveLength(1);
      const digest = createHash("sha256")
        .update(seen[0] ?? "")
        .digest("base64")
        .replace(/=+$/, "");
      expect(`SHA256:${digest}`).toBe(first.server.hostKeyFingerprint);
    } finally {
      await first.cleanup();
      await second.cleanup();
    }
  });
});
