/**
 * A rented instance as the simulator keeps it: what was asked at create, where it is in its
 * lifecycle, its state history (which the ledger bills from), its SSH endpoint and its faults.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { type CreateRequest, normaliseRuntype, parseEnv } from "./create-request";
import type { InstanceFault } from "./faults";
import { type HostProfile, type ResolvedHost, resolveHost } from "./host-profile";
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
  /** A host event due once the instance has run `afterRunningSeconds` (drawn by the random profile). */
  hostEvent: { event: "outbid" | "offline"; afterRunningSeconds: number } | null;
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
  /** What the host looks like from inside (GPUs, driver, disk, torch, ai-toolkit), fixed at create. */
  host: ResolvedHost;
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
    hostEvent: null,
  };
}

/** A create as Vast accepted it: the request, and what it took from the account at that moment. */
export interface CreateOrder {
  askId: number;
  /** The offer as it was at the create call. */
  offer: SimOffer;
  body: CreateRequest;
  /** The account's SSH keys at the create call: keys added later reach only new instances. */
  accountKeys: string[];
  /** Instance faults drawn at the create call. */
  faults: InstanceFault[];
  /** The host profile drawn at the create call (null: a healthy host). */
  hostProfile: HostProfile | null;
}

/** A new instance, created at `atMs`: provisioning starts then, and so does storage billing. */
export function newInstance(
  order: CreateOrder,
  id: number,
  atMs: number,
  options: { provisioningSeconds: number; dataDir: string; aiToolkitDirs: readonly string[] },
): SimInstance {
  const { body, offer } = order;
  const isBid = body.price !== undefined && body.price !== null;
  return {
    id,
    apiKey: randomBytes(32).toString("hex"),
    offer: { ...offer },
    isBid,
    gpuDph: isBid ? body.price! : offer.dph_base,
    diskGb: body.disk,
    label: body.label ?? null,
    image: body.image ?? `template:${body.template_hash_id}`,
    runtype: normaliseRuntype(body.runtype),
    env: parseEnv(body.env),
    onstart: body.onstart ?? null,
    args: body.args ?? (body.args_str ? [body.args_str] : null),
    createdAtMs: atMs,
    destroyedAtMs: null,
    actual: null,
    intended: "running",
    cur: "running",
    next: null,
    statusMsg: null,
    nextAtMs: atMs + options.provisioningSeconds * 1000,
    startedAtMs: null,
    history: [
      {
        atMs,
        actual_status: null,
        intended_status: "running",
        cur_state: "running",
        status_msg: null,
        reason: "created",
      },
    ],
    previousView: null,
    accountKeys: [...order.accountKeys],
    attachedKeys: [],
    faults: freshFaultState(),
    bytesReceived: 0,
    sshPort: 0,
    rootDir: join(options.dataDir, "instances", String(id)),
    hostKeyFingerprint: null,
    host: resolveHost(offer, body.disk, order.hostProfile, options.aiToolkitDirs),
  };
}
