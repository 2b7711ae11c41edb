/**
 * Confinement of an instance's processes, as on a Vast container: the instance folder is /workspace and
 * /root, the rest of the system is read-only, /tmp is private, and the simulator's host stays out of reach
 * even though commands run as root:
 * - a user namespace (`--unshare-user`) with every capability dropped (`--cap-drop ALL`, an empty bounding
 *   set, no_new_privs): root inside cannot remount, mount, or override file permissions on the host;
 * - no network (`--unshare-net`): a real container has the internet but never its host's loopback
 *   services, and nothing the simulator does needs a network inside (pushes and downloads go through
 *   SSH channels to processes in the sandbox);
 * - its own pid, uts, ipc and (where the kernel has one) cgroup namespaces, and no nested user namespaces.
 *
 * Preferred: one long-lived bubblewrap container per instance that each command joins with `nsenter`
 * (entering its user namespace too, then dropping every capability with `setpriv`), so detached jobs
 * (`nohup ... &`) outlive their SSH session like on a real container and die with the instance. When
 * nsenter/setpriv cannot join, bubblewrap per command (same confinement; detached jobs end with their
 * command). Without bubblewrap, opening fails: the unconfined shell exists only when asked for by name.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { accessSync, constants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { SHIM_MOUNT } from "./shims";
import type { ConfinementMode, SshServerLogger } from "./types";

export interface SandboxOptions {
  instanceId: number;
  rootDir: string;
  /** Host folder with the shims; bound read-only at SHIM_MOUNT when confined. */
  shimDir: string;
  logger: SshServerLogger;
  /** The bubblewrap executable; default `bwrap` on PATH. */
  bwrap?: string;
  /** More host paths the instance sees read-only at the same place (tests bind a folder they own there). */
  readOnlyPaths?: readonly string[];
  /** Host folders the instance sees read-only somewhere else (ai-toolkit's stand-in at /app/ai-toolkit). */
  readOnlyBinds?: readonly { source: string; target: string }[];
}

export interface Sandbox {
  readonly mode: ConfinementMode;
  /** HOME inside the instance, and the folder the simulator's files are under (/root, or rootDir when unconfined). */
  readonly home: string;
  /** Where the shims are seen from inside. */
  readonly shimPath: string;
  /** Starts argv inside the instance in its own process group, with exactly `env`. */
  spawn(argv: readonly string[], env: Record<string, string>): ChildProcess;
  /** Kills everything still running in the instance. */
  close(): Promise<void>;
}

/** Bubblewrap is missing or cannot confine on this machine, and nobody asked to run unconfined. */
export class SandboxUnavailableError extends Error {
  override readonly name = "SandboxUnavailableError";
}

/** The one line that says what to do when bubblewrap is missing. */
export const BWRAP_MISSING_HINT =
  "install bubblewrap (Debian/Ubuntu: apt-get install -y --no-install-recommends bubblewrap, or run " +
  "`sh scripts/prerequisites.sh` in the repository), or pass --unsafe-no-sandbox (startVastSim: " +
  "unsafeNoSandbox) to run instance commands unconfined on this machine";

/**
 * The absolute path of a program, looked up on this process's PATH once: commands are started with the
 * instance's environment, whose PATH must not decide which bubblewrap or nsenter confines them.
 */
export function findExecutable(name: string): string | null {
  const candidates = name.includes("/")
    ? [name]
    : (process.env.PATH ?? "/usr/bin:/bin")
        .split(delimiter)
        .filter((dir) => isAbsolute(dir))
        .map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return null;
}

const supportsCache = new Map<string, boolean>();

/** bubblewrap ≥ 0.8 can forbid nested user namespaces; older ones (Ubuntu 22.04's 0.6) cannot. */
function supportsDisableUserns(bwrap: string): boolean {
  let known = supportsCache.get(bwrap);
  if (known === undefined) {
    const help = spawnSync(bwrap, ["--help"], { encoding: "utf8", timeout: 5_000 });
    known = `${help.stdout ?? ""}`.includes("--disable-userns");
    supportsCache.set(bwrap, known);
  }
  return known;
}

/** Options after openSandbox resolved the bubblewrap executable to an absolute path. */
type Resolved = SandboxOptions & { bwrap: string };

function viewArgs(options: Resolved): string[] {
  const bwrap = options.bwrap;
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
    // Last, so that no mount above (a /tmp of its own) hides them.
    ...(options.readOnlyPaths ?? []).flatMap((path) => ["--ro-bind", path, path]),
    ...(options.readOnlyBinds ?? []).flatMap((bind) => ["--ro-bind", bind.source, bind.target]),
    "--unshare-user", "--uid", "0", "--gid", "0",
    ...(supportsDisableUserns(bwrap) ? ["--disable-userns"] : []),
    "--cap-drop", "ALL",
    "--unshare-net",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-cgroup-try",
    "--unshare-uts", "--hostname", `C.${options.instanceId}`,
    "--die-with-parent",
  ];
}

interface ProbeResult {
  ok: boolean;
  /** The spawn error's code, e.g. ENOENT when the program is missing. */
  spawnError?: string;
  output: string;
}

/** Runs a probe to completion; ok when it exits 0 within the time limit. */
async function probe(child: ChildProcess, timeoutMs = 5_000): Promise<ProbeResult> {
  let output = "";
  let spawnError: string | undefined;
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stdin?.end();
  child.on("error", (error: NodeJS.ErrnoException) => {
    spawnError = error.code ?? error.message;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const [code] = (await once(child, "close")) as [number | null];
    return { ok: code === 0 && spawnError === undefined, output: output.trim(), spawnError };
  } catch (error) {
    return { ok: false, spawnError: spawnError ?? String(error), output: output.trim() };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What every confined command is checked for before a mode is used: the view is there, and the command
 * holds no capability at all (a join that kept host capabilities must never be used).
 */
const PROBE_COMMAND = [
  "/bin/bash",
  "-c",
  `test -d /workspace && test -x ${SHIM_MOUNT}/nvidia-smi && grep -q '^CapEff:[[:space:]]*0*$' /proc/self/status && grep -q '^CapBnd:[[:space:]]*0*$' /proc/self/status`,
];

function spawnOwnGroup(command: string, args: readonly string[], env: Record<string, string>, cwd?: string) {
  return spawn(command, args, { env, cwd, detached: true, stdio: ["pipe", "pipe", "pipe"] });
}

/** The container's first process: says when the view is built, then only keeps the namespaces alive. */
const CONTAINER_INIT = ["/bin/bash", "-c", "echo ready; exec sleep infinity"];

/**
 * How a command joins the container: nsenter enters its user namespace first (so the joined process holds
 * capabilities only inside it, none on the host), then the others, and setpriv drops every capability
 * (effective, permitted, inheritable, ambient and the bounding set, so no later exec regains any) and sets
 * no_new_privs, as bubblewrap's `--cap-drop ALL` does for the container's own processes. `env -C` changes
 * into /root inside the view (nsenter's own --wd leaves bash with an unreachable cwd).
 */
function joinArgs(childPid: number, argv: readonly string[]): string[] {
  // biome-ignore format: flags
  return [
    "--target", String(childPid), "--user", "--pid", "--mount", "--uts", "--ipc", "--net", "--cgroup", "--root", "--",
    "/usr/bin/setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
    "/usr/bin/env", "-C", "/root", ...argv,
  ];
}

type Attempt = { sandbox: Sandbox } | { failure: ProbeResult };

async function startContainer(options: Resolved): Promise<Attempt> {
  const nsenter = findExecutable("nsenter");
  if (nsenter === null) return { failure: { ok: false, spawnError: "ENOENT", output: "no nsenter" } };
  const init = spawn(
    options.bwrap,
    [...viewArgs(options), "--info-fd", "3", "--chdir", "/root", ...CONTAINER_INIT],
    {
      env: { PATH: "/usr/bin:/bin" },
      stdio: ["ignore", "pipe", "pipe", "pipe"],
    },
  );
  let spawnError: string | undefined;
  init.on("error", (error: NodeJS.ErrnoException) => {
    spawnError = error.code ?? error.message;
  });
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
    await kill();
    return { failure: { ok: false, spawnError, output: stderr.trim() } };
  }
  const joined = await probe(
    spawnOwnGroup(nsenter, joinArgs(childPid, PROBE_COMMAND), { PATH: "/usr/bin:/bin" }),
  );
  if (!joined.ok) {
    await kill();
    return { failure: joined };
  }
  return {
    sandbox: {
      mode: "bwrap-container",
      home: "/root",
      shimPath: SHIM_MOUNT,
      spawn: (argv, env) => spawnOwnGroup(nsenter, joinArgs(childPid, argv), env),
      close: kill,
    },
  };
}

async function perCommand(options: Resolved): Promise<Attempt> {
  const bwrap = options.bwrap;
  const args = (argv: readonly string[]) => [...viewArgs(options), "--chdir", "/root", ...argv];
  const result = await probe(spawnOwnGroup(bwrap, args(PROBE_COMMAND), { PATH: "/usr/bin:/bin" }));
  if (!result.ok) return { failure: result };
  return {
    sandbox: {
      mode: "bwrap-per-command",
      home: "/root",
      shimPath: SHIM_MOUNT,
      spawn: (argv, env) => spawnOwnGroup(bwrap, args(argv), env),
      close: async () => {},
    },
  };
}

function unconfined(options: SandboxOptions): Sandbox {
  return {
    mode: "unconfined",
    home: options.rootDir,
    shimPath: options.shimDir,
    spawn: (argv, env) => spawnOwnGroup(argv[0] ?? "/bin/bash", argv.slice(1), env, options.rootDir),
    close: async () => {},
  };
}

function unavailable(options: SandboxOptions, failure: ProbeResult): SandboxUnavailableError {
  const bwrap = options.bwrap ?? "bwrap";
  const reason =
    failure.spawnError === "ENOENT"
      ? `bubblewrap (${bwrap}) is not installed`
      : `bubblewrap (${bwrap}) cannot confine on this machine (${failure.spawnError ?? failure.output.split("\n")[0] ?? "no output"})`;
  return new SandboxUnavailableError(
    `vast-sim: cannot confine the simulated instances' commands: ${reason}; ${BWRAP_MISSING_HINT}`,
  );
}

/**
 * Opens the requested confinement: "bwrap-container" (falling back to "bwrap-per-command" when commands
 * cannot join a container), "bwrap-per-command", or "unconfined" — only ever by name, never as a fallback.
 * Throws SandboxUnavailableError when bubblewrap cannot confine.
 */
export async function openSandbox(
  options: SandboxOptions,
  requested: ConfinementMode = "bwrap-container",
): Promise<Sandbox> {
  if (requested === "unconfined") {
    options.logger.warn(
      "instance commands run UNCONFINED (asked for): as this process's user, in the instance folder, " +
        "with the host's network; absolute /workspace and /root paths do not map",
      { instanceId: options.instanceId },
    );
    return unconfined(options);
  }
  const bwrapPath = findExecutable(options.bwrap ?? "bwrap");
  if (bwrapPath === null) throw unavailable(options, { ok: false, spawnError: "ENOENT", output: "" });
  const resolved: Resolved = { ...options, bwrap: bwrapPath };
  if (requested === "bwrap-container") {
    const container = await startContainer(resolved);
    if ("sandbox" in container) return container.sandbox;
    options.logger.debug("joining a bubblewrap container failed", { output: container.failure.output });
  }
  const bwrap = await perCommand(resolved);
  if ("failure" in bwrap) throw unavailable(options, bwrap.failure);
  if (requested === "bwrap-container") {
    options.logger.warn(
      "commands cannot join a long-lived bubblewrap container (nsenter/setpriv): each runs in its own, " +
        "equally confined bubblewrap; detached jobs end with their command",
      { instanceId: options.instanceId },
    );
  }
  return bwrap.sandbox;
}
