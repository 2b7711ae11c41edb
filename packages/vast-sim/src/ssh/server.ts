/**
 * The SSH server of one simulated instance (ssh2 `Server`): public-key login as root against the instance's
 * current keys, exec and SFTP confined to the instance folder, the simulated GPU environment on PATH, and
 * the SSH faults (refusing connections while "booting", dropping mid-transfer).
 */
import type { ChildProcess } from "node:child_process";
import { access, mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import ssh2, { type Connection, type ServerChannel, type Session } from "ssh2";
import { findAuthorizedKey } from "./authorized-keys";
import { bindProcessToChannel, signalGroup } from "./channel-process";
import { hostKeyFingerprint, toSsh2HostKey } from "./host-key";
import { openSandbox, type Sandbox } from "./sandbox";
import { writeAiToolkitStandIn, writeShims } from "./shims";
import type {
  ConfinementMode,
  InstanceSshServer,
  InstanceSshServerOptions,
  SimFaultsForSsh,
  SshServerLogger,
} from "./types";

export const SFTP_SERVER_PATH = "/usr/lib/openssh/sftp-server";

// ssh2 is CommonJS; Node's ESM loader only sees its default export.
const { Server } = ssh2;
const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const silent: SshServerLogger = { debug: () => {}, warn: () => {} };

export interface InstanceSshServerExtraOptions {
  /**
   * Default "bwrap-container" (falls back to "bwrap-per-command", equally confined, when commands cannot
   * join a container). "unconfined" runs commands as this process, on the host: only when asked for by
   * name (`--unsafe-no-sandbox`), never as a fallback. Without bubblewrap the server does not start.
   */
  confinement?: ConfinementMode;
  /** The bubblewrap executable; default `bwrap` on PATH. */
  bwrap?: string;
  /** More host paths the instance sees read-only at the same place (tests bind a folder they own). */
  readOnlyPaths?: readonly string[];
}

/** Per TCP connection: how to cut it, and whether the drop fault already did. */
interface ConnectionState {
  cut(): void;
  dropped: boolean;
  remote: string;
  remotePort: number;
}

export async function startInstanceSshServer(
  options: InstanceSshServerOptions & InstanceSshServerExtraOptions,
): Promise<InstanceSshServer> {
  const logger = options.logger ?? silent;
  const host = options.host ?? "127.0.0.1";
  const rootDir = resolve(options.rootDir);
  const hostKey = toSsh2HostKey(options.hostKey);
  const fingerprint = hostKeyFingerprint(hostKey);

  await mkdir(rootDir, { recursive: true });
  const shimDir = await mkdtemp(join(tmpdir(), `vast-sim-shims-${options.instanceId}-`));
  await writeShims(shimDir);
  // ai-toolkit folders outside the instance folder (e.g. /app/ai-toolkit) show one read-only stand-in.
  const toolkitStandIn = join(shimDir, ".ai-toolkit");
  const mounts = options.aiToolkitMounts ?? [];
  if (mounts.length > 0) await writeAiToolkitStandIn(toolkitStandIn);
  let sandbox: Sandbox;
  try {
    sandbox = await openSandbox(
      {
        instanceId: options.instanceId,
        rootDir,
        shimDir,
        logger,
        ...(options.bwrap ? { bwrap: options.bwrap } : {}),
        ...(options.readOnlyPaths ? { readOnlyPaths: options.readOnlyPaths } : {}),
        readOnlyBinds: mounts.map((target) => ({ source: toolkitStandIn, target })),
      },
      options.confinement ?? "bwrap-container",
    );
  } catch (error) {
    await rm(shimDir, { recursive: true, force: true });
    throw error;
  }
  const sftpAvailable = await access(SFTP_SERVER_PATH).then(
    () => true,
    () => false,
  );
  if (!sftpAvailable)
    logger.warn("no sftp-server on this machine: SFTP requests are refused", { path: SFTP_SERVER_PATH });

  const socketsByRemote = new Map<string, Socket>();
  const children = new Set<ChildProcess>();
  const running = new Set<Promise<void>>();
  let closing = false;
  let port = 0;

  // The drop fault counts bytes across every channel of the instance from the moment it is seen.
  let armed: { limit: number; remaining: number } | null = null;
  const readFaults = (): SimFaultsForSsh => {
    try {
      return options.faults();
    } catch (error) {
      logger.warn("faults() threw; assuming none", { error: String(error) });
      return { refuseConnections: false, dropAfterBytes: null };
    }
  };
  const account = (bytes: number) => {
    if (bytes <= 0 || !options.onBytesReceived) return;
    try {
      options.onBytesReceived(bytes);
    } catch (error) {
      logger.warn("onBytesReceived threw", { error: String(error) });
    }
  };
  const admit = (conn: ConnectionState, bytes: number): number => {
    if (conn.dropped || closing) return 0;
    const faults = readFaults();
    if (faults.dropAfterBytes === null || faults.dropAfterBytes === undefined) {
      armed = null;
      account(bytes);
      return bytes;
    }
    if (armed?.limit !== faults.dropAfterBytes) {
      armed = { limit: faults.dropAfterBytes, remaining: Math.max(0, Math.floor(faults.dropAfterBytes)) };
    }
    const allowed = Math.min(bytes, armed.remaining);
    armed.remaining -= allowed;
    account(allowed);
    if (armed.remaining <= 0) {
      faults.dropAfterBytes = null;
      armed = null;
      conn.dropped = true;
      try {
        options.onDropped?.();
      } catch (error) {
        logger.warn("onDropped threw", { error: String(error) });
      }
      logger.debug("drop fault: cutting the connection", {
        instanceId: options.instanceId,
        remote: conn.remote,
      });
      setImmediate(() => conn.cut());
    }
    return allowed;
  };

  const around = options.hostEnv;
  const hostEnv: Record<string, string> = around
    ? {
        VAST_SIM_NVIDIA_SMI: around.nvidiaSmi,
        VAST_SIM_GPU_BUSY: around.busyGpus.join(","),
        VAST_SIM_DRIVER_VERSION: around.driverVersion,
        VAST_SIM_CUDA_VERSION: around.cudaVersion,
        VAST_SIM_DISK_BYTES: String(around.diskBytes),
        ...(around.diskFreeBytes === null ? {} : { VAST_SIM_DISK_FREE_BYTES: String(around.diskFreeBytes) }),
        VAST_SIM_TORCH: around.torch,
      }
    : {};
  const commandEnv = (conn: ConnectionState, sessionEnv: Record<string, string>): Record<string, string> => ({
    LANG: "C.UTF-8",
    ...sessionEnv,
    ...options.env,
    PATH: `${sandbox.shimPath}:${SYSTEM_PATH}`,
    HOME: sandbox.home,
    USER: "root",
    LOGNAME: "root",
    SHELL: "/bin/bash",
    SSH_CLIENT: `${conn.remote} ${conn.remotePort} ${port}`,
    SSH_CONNECTION: `${conn.remote} ${conn.remotePort} ${host} ${port}`,
    VAST_SIM_INSTANCE_ID: String(options.instanceId),
    VAST_SIM_ROOT: sandbox.home,
    VAST_SIM_GPU_NAME: options.gpu.name,
    VAST_SIM_GPU_COUNT: String(options.gpu.count),
    VAST_SIM_GPU_RAM_MB: String(options.gpu.ramMb),
    VAST_SIM_TIME_SCALE: String(options.timeScale ?? 1),
    ...hostEnv,
  });

  const run = (
    conn: ConnectionState,
    channel: ServerChannel,
    argv: string[],
    env: Record<string, string>,
    forwardStderr: boolean,
  ): ChildProcess | undefined => {
    let child: ChildProcess;
    try {
      child = sandbox.spawn(argv, env);
    } catch (error) {
      // A throw here would escape ssh2's event handler and take the whole simulator down.
      logger.warn("cannot start a command in the instance", { error: String(error) });
      channel.stderr.write("vast-sim: cannot start command\n");
      channel.exit(127);
      channel.end();
      return undefined;
    }
    children.add(child);
    const done = bindProcessToChannel(child, channel, {
      forwardStderr,
      admit: (bytes) => admit(conn, bytes),
      onStderr: (text) => logger.debug("sftp-server stderr", { text }),
    }).finally(() => {
      children.delete(child);
      running.delete(done);
    });
    running.add(done);
    return child;
  };

  const handleSession = (conn: ConnectionState, session: Session) => {
    const sessionEnv: Record<string, string> = {};
    let current: ChildProcess | undefined;
    session.on("env", (accept, reject, info) => {
      // Like sshd's default AcceptEnv LANG LC_*.
      if (/^(LANG|LC_[A-Z_]+)$/.test(info.key)) {
        sessionEnv[info.key] = info.val;
        accept?.();
      } else reject?.();
    });
    session.on("pty", (_accept, reject) => reject?.());
    session.on("signal", (accept, _reject, info) => {
      if (current) signalGroup(current, `SIG${info.name}` as NodeJS.Signals);
      accept?.();
    });
    session.on("exec", (accept, _reject, info) => {
      logger.debug("exec", { instanceId: options.instanceId, command: info.command });
      const channel = accept();
      if (channel)
        current = run(conn, channel, ["/bin/bash", "-c", info.command], commandEnv(conn, sessionEnv), true);
    });
    session.on("shell", (accept) => {
      const channel = accept();
      if (channel) current = run(conn, channel, ["/bin/bash", "-l"], commandEnv(conn, sessionEnv), true);
    });
    session.on("subsystem", (accept, reject, info) => {
      if (info.name !== "sftp" || !sftpAvailable) return reject?.();
      const channel = accept();
      if (channel) current = run(conn, channel, [SFTP_SERVER_PATH], commandEnv(conn, sessionEnv), false);
    });
  };

  const authorizedKeys = (): string[] => {
    try {
      return options.authorizedKeys();
    } catch (error) {
      logger.warn("authorizedKeys() threw; refusing", { error: String(error) });
      return [];
    }
  };

  const ssh = new Server({ hostKeys: [hostKey] }, (client: Connection, info) => {
    const socket = socketsByRemote.get(`${info.ip}:${info.port}`);
    const conn: ConnectionState = {
      cut: () => (socket ? socket.resetAndDestroy() : client.end()),
      dropped: false,
      remote: info.ip,
      remotePort: info.port,
    };
    client.on("error", (error) => logger.debug("ssh connection error", { error: error.message }));
    client.on("authentication", (ctx) => {
      if (ctx.method !== "publickey" || ctx.username !== "root") return ctx.reject(["publickey"]);
      const key = findAuthorizedKey(authorizedKeys(), ctx.key);
      if (!key) return ctx.reject(["publickey"]);
      if (ctx.signature && ctx.blob && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) {
        return ctx.reject(["publickey"]);
      }
      ctx.accept();
    });
    client.on("ready", () => {
      client.on("session", (accept) => {
        // accept() can come back empty when the client is already gone.
        const session = accept();
        if (session) handleSession(conn, session);
      });
    });
  });
  ssh.on("error", (error: Error) => logger.debug("ssh server error", { error: error.message }));

  const sockets = new Set<Socket>();
  const tcp: NetServer = createServer((socket) => {
    socket.on("error", () => {});
    if (closing || readFaults().refuseConnections) {
      socket.destroy();
      return;
    }
    // Without it, Nagle and delayed ACKs add ~40 ms to every round trip of the handshake.
    socket.setNoDelay(true);
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    sockets.add(socket);
    socketsByRemote.set(key, socket);
    socket.once("close", () => {
      sockets.delete(socket);
      socketsByRemote.delete(key);
    });
    ssh.injectSocket(socket);
  });

  await new Promise<void>((resolveListen, rejectListen) => {
    tcp.once("error", rejectListen);
    tcp.listen(options.port ?? 0, host, () => {
      tcp.off("error", rejectListen);
      resolveListen();
    });
  }).catch(async (error: unknown) => {
    await sandbox.close();
    await rm(shimDir, { recursive: true, force: true });
    throw error;
  });
  const address = tcp.address();
  port = typeof address === "object" && address ? address.port : 0;
  tcp.on("error", (error) => logger.warn("ssh listener error", { error: error.message }));
  logger.debug("instance ssh server listening", {
    instanceId: options.instanceId,
    host,
    port,
    confinement: sandbox.mode,
  });

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      const listenerClosed = new Promise<void>((done) => tcp.close(() => done()));
      for (const socket of sockets) socket.destroy();
      for (const child of children) signalGroup(child, "SIGKILL");
      await Promise.allSettled([...running]);
      await listenerClosed;
      await closeSandbox(sandbox);
      await rm(shimDir, { recursive: true, force: true });
    })();
    return closed;
  };

  return {
    host,
    port,
    hostKeyFingerprint: fingerprint,
    confinement: sandbox.mode,
    close,
  };
}

/**
 * Opens and closes a throwaway sandbox the way the instances' servers will: the confinement they get on
 * this machine, or SandboxUnavailableError (naming what to install) before any instance exists.
 */
export async function checkConfinement(
  options: Pick<InstanceSshServerExtraOptions, "confinement" | "bwrap"> & { logger?: SshServerLogger } = {},
): Promise<ConfinementMode> {
  const requested = options.confinement ?? "bwrap-container";
  if (requested === "unconfined") return requested;
  const dir = await mkdtemp(join(tmpdir(), "vast-sim-confinement-"));
  try {
    const rootDir = join(dir, "instance");
    const shimDir = join(dir, "shims");
    await mkdir(rootDir);
    await writeShims(shimDir);
    const sandbox = await openSandbox(
      {
        instanceId: 0,
        rootDir,
        shimDir,
        logger: options.logger ?? silent,
        ...(options.bwrap ? { bwrap: options.bwrap } : {}),
      },
      requested,
    );
    await closeSandbox(sandbox);
    return sandbox.mode;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function closeSandbox(sandbox: Sandbox): Promise<void> {
  try {
    await sandbox.close();
  } catch {
    // the container is gone either way
  }
}
