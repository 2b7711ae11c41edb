/**
 * SSH faults of the simulator (refusing connections while booting, dropping mid-transfer), the bandwidth
 * ledger hook, and robustness against clients that vanish.
 */
import { randomBytes } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { join } from "node:path";
import ssh2 from "ssh2";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pollUntil } from "../../../../test/support/poll";
import { runProcess, sftpBatch, startTestInstance, type TestInstance } from "./support";

let t: TestInstance;

beforeAll(async () => {
  t = await startTestInstance();
});

afterAll(async () => {
  await t?.cleanup();
});

beforeEach(() => {
  t.faults.refuseConnections = false;
  t.faults.dropAfterBytes = null;
  t.bytes.total = 0;
});

function connectSsh2(instance: TestInstance): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.on("ready", () => resolve(client)).on("error", reject);
    readFile(instance.key.path, "utf8").then((privateKey) =>
      client.connect({
        host: instance.server.host,
        port: instance.server.port,
        username: "root",
        privateKey,
      }),
    );
  });
}

describe("SSH faults", () => {
  it("refuses connections before the banner while refuseConnections is set, then recovers", async () => {
    t.faults.refuseConnections = true;
    const refused = await t.exec("echo in", { extraArgs: ["-o", "LogLevel=INFO"] });
    expect(refused.code).toBe(255);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(
      /Connection closed by remote host|Connection reset|kex_exchange_identification/,
    );

    t.faults.refuseConnections = false;
    const ok = await t.exec("echo in");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe("in\n");
  });

  it("cuts an upload after dropAfterBytes bytes, keeps exactly those, and resets the fault", async () => {
    const limit = 100_000;
    t.faults.dropAfterBytes = limit;
    const payload = randomBytes(1_000_000);
    const result = await t.exec("cat > /workspace/dropped.bin", { input: payload });
    expect(result.code).toBe(255);
    expect(t.faults.dropAfterBytes).toBeNull();

    const path = join(t.rootDir, "dropped.bin");
    const size = await pollUntil(async () => {
      const s = await stat(path).catch(() => null);
      return s && s.size === limit ? s.size : undefined;
    });
    expect(size).toBe(limit);
    expect((await readFile(path)).equals(payload.subarray(0, limit))).toBe(true);
    expect(t.bytes.total).toBe(limit);

    // The next transfer goes through untouched.
    const again = await t.exec("cat > /workspace/whole.bin && wc -c < /workspace/whole.bin", {
      input: payload,
    });
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe(String(payload.length));
  });

  it("counts the bytes clients push on exec channels for the bandwidth ledger", async () => {
    const payload = randomBytes(50_000);
    const result = await t.exec("cat > /dev/null", { input: payload });
    expect(result.code).toBe(0);
    expect(t.bytes.total).toBe(50_000);
  });

  it("counts SFTP uploads too, protocol framing included", async () => {
    const local = join(t.dir, "sftp-payload.bin");
    await writeFile(local, randomBytes(300_000));
    const result = await sftpBatch(t, `put ${local} /workspace/sftp-payload.bin\n`);
    expect(result.code).toBe(0);
    expect((await stat(join(t.rootDir, "sftp-payload.bin"))).size).toBe(300_000);
    expect(t.bytes.total).toBeGreaterThan(300_000);
    expect(t.bytes.total).toBeLessThan(310_000);
  });

  it("cuts an SFTP upload too", async () => {
    t.faults.dropAfterBytes = 64_000;
    const local = join(t.dir, "sftp-big.bin");
    await writeFile(local, randomBytes(1_000_000));
    const result = await sftpBatch(t, `put ${local} /workspace/sftp-big.bin\n`);
    expect(result.code).not.toBe(0);
    expect(t.bytes.total).toBe(64_000);
    const size = (await stat(join(t.rootDir, "sftp-big.bin")).catch(() => null))?.size ?? 0;
    expect(size).toBeLessThan(64_000);
  });

  it("survives a client that vanishes mid-command, and ends the command's processes", async () => {
    const client = await connectSsh2(t);
    await new Promise<void>((resolve, reject) => {
      client.exec("echo $$ > /workspace/vanish.pid; exec sleep 30", (error, channel) => {
        if (error) return reject(error);
        channel.on("data", () => {});
        resolve();
      });
    });
    const pid = await pollUntil(() => readFile(join(t.rootDir, "vanish.pid"), "utf8").catch(() => undefined));
    expect(pid).toBeDefined();
    client.destroy();

    // The sleep (pid inside the instance) is gone within the grace period.
    const gone = await pollUntil(async () => {
      const r = await t.exec(`kill -0 ${pid?.trim()} 2>/dev/null && echo alive || echo gone`);
      return r.stdout.trim() === "gone" ? true : undefined;
    }, 5_000);
    expect(gone).toBe(true);
  });

  it("shrugs off garbage, half-open and mid-handshake disconnects", async () => {
    const junk = async (payload: Buffer | string, closeAfterMs: number) =>
      new Promise<void>((resolve) => {
        const socket = createConnection({ host: t.server.host, port: t.server.port });
        socket.on("error", () => resolve());
        socket.on("close", () => resolve());
        socket.on("connect", () => {
          socket.write(payload);
          setTimeout(() => socket.destroy(), closeAfterMs);
        });
      });
    await Promise.all([
      junk("GET / HTTP/1.1\r\n\r\n", 50),
      junk(randomBytes(70_000), 10),
      junk("SSH-2.0-OpenSSH_9.2\r\n", 30),
      junk("", 0),
    ]);
    const result = await t.exec("echo still here");
    expect(result.stdout).toBe("still here\n");
  });

  it("ends connections and running commands on close()", async () => {
    const other = await startTestInstance();
    const client = await connectSsh2(other);
    const closed = new Promise<void>((resolve) => client.on("close", () => resolve()));
    client.on("error", () => {});
    // An unusual duration names the command among the host's processes.
    const sleeping = async () => (await runProcess("pgrep", ["-f", "sleep 31.4159"])).code === 0;
    await new Promise<void>((resolve, reject) => {
      client.exec("sleep 31.4159", (error, channel) => {
        if (error) return reject(error);
        channel.on("data", () => {});
        resolve();
      });
    });
    expect(await pollUntil(async () => ((await sleeping()) ? true : undefined))).toBe(true);
    const started = Date.now();
    await other.cleanup();
    await closed;
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await pollUntil(async () => ((await sleeping()) ? undefined : true))).toBe(true);
  });
});
