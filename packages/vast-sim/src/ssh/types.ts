/**
 * The contract between the simulator's HTTP/lifecycle part and its per-instance SSH server:
 * what the lifecycle passes in (options, faults read live) and what it gets back.
 */
import { z } from "zod";

export interface SimFaultsForSsh {
  /** When true, new TCP connections are accepted then closed before the SSH banner (as a booting Vast container does). */
  refuseConnections: boolean;
  /**
   * When a number, the server drops the connection after receiving that many more bytes on any exec/sftp
   * channel (then resets to null — by writing `null` into the object `faults()` returned).
   */
  dropAfterBytes: number | null;
}

export interface SshServerLogger {
  debug(msg: string, attrs?: Record<string, unknown>): void;
  warn(msg: string, attrs?: Record<string, unknown>): void;
}

export interface SimGpu {
  name: string;
  count: number;
  ramMb: number;
}

/**
 * The simulated host around the GPUs, as the shims read it (`VAST_SIM_*` variables per command): see
 * `host-profile.ts` for what each means and the defaults.
 */
export interface SimHostEnvironment {
  nvidiaSmi: "ok" | "missing" | "no_driver" | "unknown_error";
  busyGpus: number[];
  driverVersion: string;
  cudaVersion: string;
  /** Size of the instance's disk; `df` reports it for every path. */
  diskBytes: number;
  /** Free space `df` reports; null = the size minus what the instance folder holds. */
  diskFreeBytes: number | null;
  torch: "cuda" | "cpu" | "missing";
}

export interface InstanceSshServerOptions {
  instanceId: number;
  /** Per-instance folder on the host; inside the instance it is seen as both /workspace and /root. Created if missing. */
  rootDir: string;
  /** PEM private host key (ed25519 or rsa), stable for the instance's life. */
  hostKey: string;
  /** OpenSSH public-key lines currently allowed (read on every auth attempt, so keys attached later work). */
  authorizedKeys: () => string[];
  gpu: SimGpu;
  /** The host around the GPUs; without it nvidia-smi reports a default driver and `df` the real disk. */
  hostEnv?: SimHostEnvironment;
  /**
   * Absolute folders outside /workspace and /root where ai-toolkit's run.py stand-in is found (bound
   * read-only from the server's own folder; e.g. `/app/ai-toolkit`, as in ai-toolkit's image). Not
   * available unconfined (absolute paths there are the host's).
   */
  aiToolkitMounts?: readonly string[];
  /** Listen address/port; port 0 = ephemeral. Default host 127.0.0.1. */
  host?: string;
  port?: number;
  /** Seconds of simulated time per real second. Scales the training stand-in's duration. Default 1. */
  timeScale?: number;
  /** Read on every connection / channel. */
  faults: () => SimFaultsForSsh;
  /** Called with the number of bytes received from the client on exec/sftp channels (bandwidth ledger). */
  onBytesReceived?: (bytes: number) => void;
  /** Called when the drop fault (`dropAfterBytes`) cut a connection (the simulator counts faults). */
  onDropped?: () => void;
  /** Extra environment for commands (CONTAINER_ID, PUBLIC_IPADDR, VAST_TCP_PORT_22, ...). */
  env?: Record<string, string>;
  logger?: SshServerLogger;
}

export interface InstanceSshServer {
  readonly host: string;
  readonly port: number;
  /** Fingerprint of the host key, "SHA256:..." as OpenSSH prints it. */
  readonly hostKeyFingerprint: string;
  /**
   * How commands are confined: a long-lived bubblewrap container, bubblewrap per command (both: user
   * namespace without capabilities, no network, read-only system), or — only when asked for — unconfined.
   */
  readonly confinement: ConfinementMode;
  close(): Promise<void>;
}

export type ConfinementMode = "bwrap-container" | "bwrap-per-command" | "unconfined";

/** How the training stand-in of one instance behaves; read by the stand-in when it starts. */
export const SimTrainingBehaviourSchema = z
  .object({
    durationSeconds: z.number().nonnegative(),
    fail: z.boolean(),
    exitCode: z.number().int().min(1).max(255).optional(),
    failMessage: z.string().optional(),
    /** Progress lines over the run (10 when absent): more of them read the run's step more finely,
     * as ai-toolkit's tqdm line does (it moves every step). */
    progressTicks: z.number().int().min(1).max(10_000).optional(),
    /** Waits after this many of the progress lines until the run is released (`releaseTraining`):
     * a run that is deterministically "still going" at a known step, whatever the machine's speed.
     * Fewer than the run's progress lines. */
    holdAfterTicks: z.number().int().min(1).optional(),
  })
  .refine((b) => b.holdAfterTicks === undefined || b.holdAfterTicks < (b.progressTicks ?? 10), {
    message: "holdAfterTicks must be fewer than the run's progress lines",
    path: ["holdAfterTicks"],
  });
export type SimTrainingBehaviour = z.infer<typeof SimTrainingBehaviourSchema>;
