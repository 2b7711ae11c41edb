/**
 * A real OpenSSH `sshd` on loopback for interop tests and benchmarks: temporary host key and
 * client key, its own config, a temp folder standing in for Vast's `/workspace`. Also a small
 * TCP proxy that can cut a connection after N bytes, to test pushes that die mid-stream.
 */
import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./free-port";

const run = promisify(execFile);

export interface TestSshd {
  host: string;
  port: number;
  username: string;
  privateKey: string;
  /** Path of the client private key file, for the `ssh`/`scp` command-line clients. */
  privateKeyPath: string;
  hostKeyFingerprint: string;
  /** Stands in for `/workspace` on a Vast instance. */
  workspaceRoot: string;
  /** `ssh` options that trust this server without touching ~/.ssh. */
  sshArgs: string[];
  close(): Promise<void>;
}

// Re-exported for the tests that import it from here (packages/core/test/ssh).
export { freePort };

/** Starts sshd; `port` lets a test pick the port in advance (e.g. to connect before it listens). */
export async function startSshd(options: { port?: number } = {}): Promise<TestSshd> {
  const dir = await mkdtemp(join(tmpdir(), "vast-rental-sshd-"));
  const workspaceRoot = join(dir, "workspace");
  await mkdir(workspaceRoot);
  await mkdir("/run/sshd", { recursive: true });
  const hostKey = join(dir, "host_ed25519");
  const clientKey = join(dir, "client_ed25519");
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test-host", "-f", hostKey]);
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test-client", "-f", clientKey]);
  await writeFile(join(dir, "authorized_keys"), await readFile(`${clientKey}.pub`), { mode: 0o600 });
  const { stdout } = await run("ssh-keygen", ["-l", "-E", "sha256", "-f", `${hostKey}.pub`]);
  const hostKeyFingerprint = stdout.split(" ")[1] ?? "";
  const port = options.port ?? (await freePort());
  const config = join(dir, "sshd_config");
  await writeFile(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PermitRootLogin yes",
      "StrictModes no",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      `PidFile ${join(dir, "sshd.pid")}`,
      "Subsystem sftp /usr/lib/openssh/sftp-server",
      "MaxStartups 200",
      "MaxSessions 100",
      "LogLevel ERROR",
      "",
    ].join("\n"),
  );
  const child = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await waitForBanner(
      port,
      () => child.exitCode !== null,
      () => stderr,
    );
  } catch (error) {
    child.kill("SIGTERM");
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const username = (await run("id", ["-un"])).stdout.trim();
  return {
    host: "127.0.0.1",
    port,
    username,
    privateKey: await readFile(clientKey, "utf8"),
    privateKeyPath: clientKey,
    hostKeyFingerprint,
    workspaceRoot,
    sshArgs: [
      "-i",
      clientKey,
      "-p",
      String(port),
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      `UserKnownHostsFile=${join(dir, "known_hosts")}`,
      "-o",
      "BatchMode=yes",
      "-o",
      "LogLevel=ERROR",
    ],
    async close() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForBanner(port: number, dead: () => boolean, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (dead()) throw new Error(`sshd exited during startup: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("data", (chunk) => {
        socket.destroy();
        resolve(chunk.toString().startsWith("SSH-"));
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`sshd did not answer on port ${port}: ${log()}`);
}

export interface TcpProxy {
  port: number;
  /** Cut every new connection after this many client→server bytes (undefined = never). */
  dropAfterBytes: number | undefined;
  /** Connections cut so far. */
  readonly drops: number;
  close(): Promise<void>;
}

/** A loopback TCP proxy to `targetPort` that can drop a connection mid-stream. */
export async function startTcpProxy(
  targetPort: number,
  options: {
    dropAfterBytes?: number;
    listenPort?: number;
    /** One-way delay added to every chunk in both directions (RTT = 2 × this), for benchmarks. */
    latencyMs?: number;
  } = {},
): Promise<TcpProxy> {
  const { dropAfterBytes } = options;
  const sockets = new Set<net.Socket>();
  let drops = 0;
  const proxy: TcpProxy = {
    port: 0,
    dropAfterBytes,
    get drops() {
      return drops;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    const limit = proxy.dropAfterBytes;
    let sent = 0;
    const cut = () => {
      drops++;
      client.resetAndDestroy();
      upstream.destroy();
    };
    const latency = options.latencyMs ?? 0;
    // Same-duration timers fire in insertion order, so delayed chunks keep their order.
    const forward = (to: net.Socket, chunk: Buffer) =>
      latency > 0 ? setTimeout(() => to.writable && to.write(chunk), latency) : to.write(chunk);
    client.on("data", (chunk: Buffer) => {
      sent += chunk.length;
      if (limit !== undefined && sent > limit) return cut();
      if (latency > 0) forward(upstream, chunk);
      else if (!upstream.write(chunk)) client.pause();
    });
    upstream.on("drain", () => client.resume());
    if (latency > 0) upstream.on("data", (chunk: Buffer) => forward(client, chunk));
    else upstream.pipe(client);
    client.on("end", () => (latency > 0 ? setTimeout(() => upstream.end(), latency) : upstream.end()));
    const forget = () => {
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.on("close", forget);
  });
  await new Promise<void>((resolve) => server.listen(options.listenPort ?? 0, "127.0.0.1", resolve));
  const address = server.address();
  proxy.port = typeof address === "object" && address ? address.port : 0;
  return proxy;
}
