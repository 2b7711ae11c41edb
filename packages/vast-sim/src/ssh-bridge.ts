/**
 * The simulator's side of the per-instance SSH server (packages/vast-sim/src/ssh, written to
 * the contract in its index.ts): starts, stops and restarts one server per instance. With
 * `ssh: false` no server runs and instances advertise a placeholder port that nothing listens on.
 */
import type { PrepareInstanceFolderOptions } from "./ssh/instance-folder";
import type { SimHostEnvironment } from "./ssh/types";

export interface SshFaults {
  refuseConnections: boolean;
  dropAfterBytes: number | null;
}

export interface SshServerHandle {
  readonly port: number;
  readonly hostKeyFingerprint: string;
  close(): Promise<void>;
}

export interface SshStartRequest {
  instanceId: number;
  rootDir: string;
  hostKey: string;
  authorizedKeys: () => string[];
  gpu: { name: string; count: number; ramMb: number };
  /** The host around the GPUs (driver, disk, torch; host-profile.ts). */
  hostEnv: SimHostEnvironment;
  /** ai-toolkit folders outside the instance folder that show the run.py stand-in. */
  aiToolkitMounts: readonly string[];
  port?: number;
  timeScale: number;
  faults: () => SshFaults;
  onBytesReceived: (bytes: number) => void;
  /** Called when a `dropAfterBytes` fault cut a connection. */
  onDropped?: () => void;
  env: Record<string, string>;
  logger: {
    debug(msg: string, attrs?: Record<string, unknown>): void;
    warn(msg: string, attrs?: Record<string, unknown>): void;
  };
}

/** How instance commands are confined (see ssh/sandbox.ts); null when no SSH server runs. */
export type SimConfinement = "bwrap-container" | "bwrap-per-command" | "unconfined";

export interface SshBackend {
  readonly enabled: boolean;
  readonly confinement: SimConfinement | null;
  generateHostKey(): string;
  prepareInstanceFolder(rootDir: string, options: PrepareInstanceFolderOptions): Promise<void>;
  start(req: SshStartRequest): Promise<SshServerHandle>;
  setTrainingBehaviour(
    rootDir: string,
    behaviour: {
      durationSeconds: number;
      fail: boolean;
      exitCode?: number;
      failMessage?: string;
      progressTicks?: number;
      holdAfterTicks?: number;
    },
  ): Promise<void>;
  releaseTraining(rootDir: string): Promise<void>;
}

interface SshModule {
  startInstanceSshServer(
    options: SshStartRequest & { host?: string; confinement?: SimConfinement },
  ): Promise<SshServerHandle>;
  checkConfinement(options: { confinement?: SimConfinement }): Promise<SimConfinement>;
  generateHostKey(): string;
  prepareInstanceFolder(rootDir: string, options: PrepareInstanceFolderOptions): Promise<void>;
  setTrainingBehaviour: SshBackend["setTrainingBehaviour"];
  releaseTraining: SshBackend["releaseTraining"];
}

export interface SshBackendOptions {
  /** Run instance commands unconfined, on the host (`--unsafe-no-sandbox`); never a fallback. */
  unsafeNoSandbox?: boolean;
}

/**
 * Checks the confinement before any instance exists: without bubblewrap (and without unsafeNoSandbox)
 * this throws SandboxUnavailableError, naming what to install, instead of failing at the first instance.
 */
export async function loadSshBackend(enabled: boolean, options: SshBackendOptions = {}): Promise<SshBackend> {
  if (!enabled) return placeholderBackend();
  const mod: SshModule = await import("./ssh/index");
  const requested: SimConfinement = options.unsafeNoSandbox ? "unconfined" : "bwrap-container";
  const confinement = await mod.checkConfinement({ confinement: requested });
  const open = (req: SshStartRequest, port?: number) =>
    mod.startInstanceSshServer({
      ...req,
      host: "127.0.0.1",
      confinement: requested,
      ...(port === undefined ? {} : { port }),
    });
  return {
    enabled: true,
    confinement,
    generateHostKey: () => mod.generateHostKey(),
    prepareInstanceFolder: (dir, folderOptions) => mod.prepareInstanceFolder(dir, folderOptions),
    setTrainingBehaviour: (dir, b) => mod.setTrainingBehaviour(dir, b),
    releaseTraining: (dir) => mod.releaseTraining(dir),
    start: async (req) => {
      try {
        return await open(req);
      } catch (err) {
        // The old port may have been taken while the instance was stopped: take any free one.
        if (req.port && (err as NodeJS.ErrnoException).code === "EADDRINUSE") return open(req, 0);
        throw err;
      }
    },
  };
}

function placeholderBackend(): SshBackend {
  let nextPort = 41_000;
  return {
    enabled: false,
    confinement: null,
    generateHostKey: () => "",
    prepareInstanceFolder: async () => {},
    setTrainingBehaviour: async () => {},
    releaseTraining: async () => {},
    start: async (req) => ({
      port: req.port || nextPort++,
      hostKeyFingerprint: "SHA256:ssh-disabled",
      close: async () => {},
    }),
  };
}
