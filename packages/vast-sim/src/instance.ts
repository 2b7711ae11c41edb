/**
 * A rented instance as the simulator keeps it: what was asked at create, where it is in its
 * lifecycle, its state history (which the ledger bills from), its SSH endpoint and its faults.
 */
import type { SimOffer } from "./marketplace";

export type ActualStatus = null | "loading" | "running" | "stopped" | "created" | "exited" | "offline";

export interface HistoryEntry {
  atMs: number;
  actual_status: ActualStatus | "destroyed";
  intended_status: "running" | "stopped";
  cur_state: "running" | "stopped" | "unloaded";
  status_msg: string | null;
  reason: string;
}

export interface InstanceFaultState {
  stuckLoading: boolean;
  fatal: { status: "created" | "exited"; statusMsg: string } | null;
  staleReads: number;
  /** Applied at the next transition to running. */
  sshRefuseSeconds: number | null;
  sshRefuseUntilMs: number | null;
  /**
   * The live object handed to the SSH server's `faults()`: `refuseConnections` is refreshed on
   * each read; the server writes `dropAfterBytes = null` once the drop fired.
   */
  ssh: { refuseConnections: boolean; dropAfterBytes: number | null };
  /** Status to return to when the host comes back online. */
  offlineFrom: ActualStatus | null;
}

export interface AttachedKey {
  id: number;
  public_key: string;
}

export interface SimInstance {
  id: number;
  apiKey: string;
  offer: SimOffer;
  isBid: boolean;
  /** $/h charged for the GPU part while running: the bid for interruptible, else `dph_base`. */
  gpuDph: number;
  diskGb: number;
  label: string | null;
  image: string;
  runtype: string;
  env: Record<string, string>;
  onstart: string | null;
  args: string[] | null;
  createdAtMs: number;
  destroyedAtMs: number | null;
  actual: ActualStatus;
  intended: "running" | "stopped";
  cur: "running" | "stopped" | "unloaded";
  next: "running" | "stopped" | null;
  statusMsg: string | null;
  /** When the next automatic transition (provisioning → loading → running) happens; null = none. */
  nextAtMs: number | null;
  /** Epoch ms the instance last became running. */
  startedAtMs: number | null;
  history: HistoryEntry[];
  /** The show view as it was before the latest transition, for stale reads. */
  previousView: Record<string, unknown> | null;
  accountKeys: string[];
  attachedKeys: AttachedKey[];
  faults: InstanceFaultState;
  bytesReceived: number;
  sshPort: number;
  rootDir: string;
  hostKeyFingerprint: string | null;
}

export function freshFaultState(): InstanceFaultState {
  return {
    stuckLoading: false,
    fatal: null,
    staleReads: 0,
    sshRefuseSeconds: null,
    sshRefuseUntilMs: null,
    ssh: { refuseConnections: true, dropAfterBytes: null },
    offlineFrom: null,
  };
}
