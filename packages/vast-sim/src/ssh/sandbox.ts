/**
 * Confinement of an instance's processes, as on a Vast container: the instance folder is /workspace and
 * /root, the rest of the system is read-only, /tmp is private. Preferred: one long-lived bubblewrap
 * container per instance (own pid namespace) that each command joins with nsenter, so detached jobs
 * (`nohup ... &`) outlive their SSH session like on a real container and die with the instance. Fallbacks:
 * bubblewrap per command (detached jobs die when the command returns), then a plain shell in the folder
 * (absolute /workspace paths do not map, nothing is confined).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { SHIM_MOUNT } from "./shims";
import type { ConfinementMode, SshServerLogger } from "./types";

export interface SandboxOptions {
  instanceId: number;
  rootDir: string;
  /** Host folder with the shims; bound read-only at SHIM_MOUNT when confined. */
  shimDir: string;
  logger: SshServerLogger;
}

export interface Sandbox {
  readonly mode: ConfinementMode;
  /** HOME inside the instance, and the folder the simulator's files are under (/root, or rootDir when plain). */
  readonly home: string;
  /** Where the shims are seen from inside. */
  readonly shimPath: string;
  /** Starts argv inside the instance in its own process group, with exactly `env`. */
  spawn(argv: readonly string[], env: Record<string, string>): ChildProcess;
  /** Kills everything still running in the instance. */
  close(): Promise<void>;
}

function viewArgs(options: SandboxOptions): string[] {
  // biome-ignore format: one flag with its values per line
  return [
    "--ro-bind", "/usr", "/usr",
    "--ro-bind", "/bin", "/bin",
    "--ro-bind", "/lib", "/lib",
    "--ro-bind-try", "/lib64", "/lib64",
    "--ro-bind-try", "/sbin", "/sbin",
    "--ro-bind", "/etc", "/etc",
    "--dir", "/workspace", "--bind", options.rootDir, "/workspace",
    "--dir", "/root", "--bind", options.rootDir, "/root",
    "--ro-bind", options.shimDir, SHIM_MOUNT,
    "--tmpfs", "/tmp",
    "--tmpfs", "/var/tmp",
    "--dev", "/dev",
    "--proc", "/proc",
    "--unshare-pid",
    "--unshare-uts", "--hostname", `C.${options.instanceId}`,
    "--die-with-parent",
  ];
}

/** Runs a probe to completion; true when it exits 0 within the time limit. */
async function probe(child: ChildProcess, timeoutMs = 5_000): Promise<boolean> {
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const [code] = (await once(child, "close")) as [number | null];
    return code === 0;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

const PROBE_COMMAND = ["/bin/bash", "-c", `test -d /workspace && test -x ${SHIM_MOUNT}/nvidia-smi`];

function spawnOwnGroup(command: string, args: readonly string[], env: Record<string, string>, cwd?: string) {
  return spawn(command, args, { env, cwd, detached: true, stdio: ["pipe", "pipe", "pipe"] });
}

/** The container's first process: says when the view is built, then only keeps the namespaces alive. */
const CONTAINER_INIT = ["/bin/bash", "-c", "echo ready; exec sleep infinity"];

async function startContainer(options: SandboxOptions): Promise<Sandbox | null> {
  const init = spawn(
    "bwrap",
    [...viewArgs(options), "--info-fd", "3", "--chdir", "/root", ...CONTAINER_INIT],
    {
      env: { PATH: "/usr/bin:/bin" },
      stdio: ["ignore", "pipe", "pipe", "pipe"],
    },
  );
  init.on("error", () => {});
  const exited = once(init, "close").then(
    () => {},
    () => {},
  );
  let stderr = "";
  init.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // Entering before bubblewrap has built the view could land in the host's root: wait for the init's line.
  const childPid = await new Promise<number | null>((resolve) => {
    let info = "";
    let ready = false;
    let pid: number | null = null;
    const timer = setTimeout(() => resolve(null), 5_000);
    const check = () => {
      if (!ready || pid === null) return;
      clearTimeout(timer);
      resolve(pid);
    };
    init.stdio[3]?.on("data", (chunk: Buffer) => {
      info += chunk.toString();
      const match = /"child-pid"\s*:\s*(\d+)/.exec(info);
      if (match?.[1]) pid = Number(match[1]);
      check();
    });
    init.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) ready = true;
      check();
    });
    void exited.then(() => {
      clearTimeout(timer);
      resolve(null);
    });
  });
  const kill = async () => {
    if (init.exitCode === null && init.signalCode === null) init.kill("SIGKILL");
    await exited;
  };
  if (childPid === null) {
    options.logger.debug("bubblewrap container did not start", { stderr: stderr.trim() });
    await kill();
    return null;
  }
  // nsenter's own --wd leaves bash with an unreachable cwd; `env -C` changes into /root inside the view.
  // biome-ignore format: flags
  const enter = (argv: readonly string[]) => [
    "--target", String(childPid), "--pid", "--mount", "--uts", "--root", "--",
    "/usr/bin/env", "-C", "/root", ...argv,
  ];
  const ok = await probe(spawnOwnGroup("nsenter", enter(PROBE_COMMAND), { PATH: "/usr/bin:/bin" }));
  if (!ok) {
    options.logger.debug("nsenter into the bubblewrap container failed", { stderr: stderr.trim() });
    await kill();
    return null;
  }
  return {
    mode: "bwrap-container",
    home: "/root",
    shimPath: SHIM_MOUNT,
    spawn: (argv, env) => spawnOwnGroup("nsenter", enter(argv), env),
    close: kill,
  };
}

async function perCommand(options: SandboxOptions): Promise<Sandbox | null> {
  const args = (argv: readonly string[]) => [...viewArgs(options), "--chdir", "/root", ...argv];
  const ok = await probe(spawnOwnGroup("bwrap", args(PROBE_COMMAND), { PATH: "/usr/bin:/bin" }));
  if (!ok) return null;
  return {
    mode: "bwrap-per-command",
    home: "/root",
    shimPath: SHIM_MOUNT,
    spawn: (argv, env) => spawnOwnGroup("bwrap", args(argv), env),
    close: async () => {},
  };
}

function plain(options: SandboxOptions): Sandbox {
  return {
    mode: "plain",
    home: options.rootDir,
    shimPath: options.shimDir,
    spawn: (argv, env) => spawnOwnGroup(argv[0] ?? "/bin/bash", argv.slice(1), env, options.rootDir),
    close: async () => {},
  };
}

/** Opens the strongest confinement this machine supports, logging a warning when it cannot confine. */
export async function openSandbox(
  options: SandboxOptions,
  preferred: ConfinementMode = "bwrap-container",
): Promise<Sandbox> {
  if (preferred === "bwrap-container") {
    const container = await startContainer(options);
    if (container) return container;
  }
  if (preferred !== "plain") {
    const bwrap = await perCommand(options);
    if (bwrap) {
      if (preferred === "bwrap-container") {
        options.logger.warn("bubblewrap works but nsenter does not: detached jobs end with their command", {
          instanceId: options.instanceId,
        });
      }
      return bwrap;
    }
  }
  options.logger.warn(
    "instance commands run in a plain shell in the instance folder, unconfined; " +
      "absolute /workspace and /root paths do not map",
    { instanceId: options.instanceId, bubblewrap: preferred === "plain" ? "not requested" : "unavailable" },
  );
  return plain(options);
}
