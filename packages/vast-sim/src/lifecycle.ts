/**
 * Instance lifecycle: `null` (provisioning) → `loading` → `running`, stop/start, destroy,
 * and the fault-driven states (stuck loading, `created`/`exited` with a fatal `status_msg`,
 * outbid → stopped, offline). Automatic transitions are computed from the simulated clock on
 * every read and stamped at the exact moment they were due, not when they were observed, so
 * state history and billing do not depend on how often anyone polls.
 */
import { FATAL_MESSAGES } from "./faults";
import type { ActualStatus, HistoryEntry, SimInstance } from "./instance";

export interface LifecycleDelays {
  /** Seconds with `actual_status: null` after create. Default 5. */
  provisioningSeconds: number;
  /** Seconds in `loading` (image pull / container start) before `running`. Default 20. */
  loadingSeconds: number;
}

export const DEFAULT_DELAYS: LifecycleDelays = { provisioningSeconds: 5, loadingSeconds: 20 };

export type StatusPatch = Partial<Pick<HistoryEntry, "intended_status" | "cur_state" | "status_msg">> & {
  actual: ActualStatus;
  next?: "running" | "stopped" | null;
};

export type ViewSnapshot = (inst: SimInstance) => Record<string, unknown>;

export function recordTransition(
  inst: SimInstance,
  atMs: number,
  patch: StatusPatch,
  reason: string,
  snapshot: ViewSnapshot,
) {
  inst.previousView = snapshot(inst);
  inst.actual = patch.actual;
  if (patch.intended_status) inst.intended = patch.intended_status;
  if (patch.cur_state) inst.cur = patch.cur_state;
  if (patch.status_msg !== undefined) inst.statusMsg = patch.status_msg;
  if (patch.next !== undefined) inst.next = patch.next;
  inst.history.push({
    atMs,
    actual_status: inst.actual,
    intended_status: inst.intended,
    cur_state: inst.cur,
    status_msg: inst.statusMsg,
    reason,
  });
}

/** Applies every automatic transition due by `nowMs`. Returns true if anything changed. */
export function catchUp(
  inst: SimInstance,
  nowMs: number,
  delays: LifecycleDelays,
  snapshot: ViewSnapshot,
): boolean {
  let changed = false;
  while (inst.destroyedAtMs === null && inst.nextAtMs !== null && inst.nextAtMs <= nowMs) {
    const at = inst.nextAtMs;
    if (inst.actual === null) {
      recordTransition(
        inst,
        at,
        { actual: "loading", status_msg: `Pulling image ${inst.image}` },
        "provisioned",
        snapshot,
      );
      inst.nextAtMs = inst.faults.stuckLoading ? null : at + delays.loadingSeconds * 1000;
    } else if (inst.actual === "loading" && inst.faults.fatal) {
      const fatal = inst.faults.fatal;
      inst.faults.fatal = null;
      recordTransition(inst, at, { actual: fatal.status, status_msg: fatal.statusMsg }, "fatal", snapshot);
      inst.nextAtMs = null;
    } else if (inst.actual === "loading") {
      recordTransition(
        inst,
        at,
        { actual: "running", status_msg: `success, running ${inst.image}/ssh` },
        "started",
        snapshot,
      );
      inst.startedAtMs = at;
      if (inst.faults.sshRefuseSeconds !== null) {
        inst.faults.sshRefuseUntilMs = at + inst.faults.sshRefuseSeconds * 1000;
        inst.faults.sshRefuseSeconds = null;
      }
      inst.nextAtMs = null;
    } else {
      inst.nextAtMs = null;
    }
    changed = true;
  }
  return changed;
}

export function stop(inst: SimInstance, nowMs: number, snapshot: ViewSnapshot, reason = "stop requested") {
  if (inst.actual === "stopped" && inst.intended === "stopped") return;
  toStopped(inst, nowMs, inst.statusMsg, reason, snapshot);
  inst.faults.offlineFrom = null;
}

/** Stopped by the renter or by the host: no GPU billing, nothing scheduled. */
function toStopped(
  inst: SimInstance,
  nowMs: number,
  statusMsg: SimInstance["statusMsg"],
  reason: string,
  snapshot: ViewSnapshot,
) {
  recordTransition(
    inst,
    nowMs,
    {
      actual: "stopped",
      intended_status: "stopped",
      cur_state: "stopped",
      next: "stopped",
      status_msg: statusMsg,
    },
    reason,
    snapshot,
  );
  inst.nextAtMs = null;
}

/** Vast calls the restart "scheduling"; here it goes straight to loading for `loadingSeconds`. */
export function start(inst: SimInstance, nowMs: number, delays: LifecycleDelays, snapshot: ViewSnapshot) {
  if (
    inst.intended === "running" &&
    inst.actual !== "stopped" &&
    inst.actual !== "exited" &&
    inst.actual !== "created"
  )
    return;
  recordTransition(
    inst,
    nowMs,
    {
      actual: "loading",
      intended_status: "running",
      cur_state: "running",
      next: null,
      status_msg: "Starting container",
    },
    "start requested",
    snapshot,
  );
  inst.nextAtMs = inst.faults.stuckLoading ? null : nowMs + delays.loadingSeconds * 1000;
}

export function reboot(inst: SimInstance, nowMs: number, delays: LifecycleDelays, snapshot: ViewSnapshot) {
  recordTransition(
    inst,
    nowMs,
    { actual: "loading", status_msg: "Rebooting container" },
    "reboot requested",
    snapshot,
  );
  inst.nextAtMs = inst.faults.stuckLoading ? null : nowMs + delays.loadingSeconds * 1000;
}

export function outbid(inst: SimInstance, nowMs: number, snapshot: ViewSnapshot) {
  toStopped(inst, nowMs, "Instance was outbid", "outbid", snapshot);
}

export function setOffline(inst: SimInstance, nowMs: number, offline: boolean, snapshot: ViewSnapshot) {
  if (offline && inst.actual !== "offline") {
    inst.faults.offlineFrom = inst.actual;
    recordTransition(inst, nowMs, { actual: "offline" }, "host offline", snapshot);
  } else if (!offline && inst.actual === "offline") {
    const back = inst.faults.offlineFrom ?? "running";
    inst.faults.offlineFrom = null;
    recordTransition(inst, nowMs, { actual: back }, "host back online", snapshot);
  }
}

export function destroy(inst: SimInstance, nowMs: number, snapshot: ViewSnapshot) {
  recordTransition(
    inst,
    nowMs,
    { actual: "stopped", intended_status: "stopped", cur_state: "unloaded", next: null },
    "destroy requested",
    snapshot,
  );
  inst.history[inst.history.length - 1]!.actual_status = "destroyed";
  inst.destroyedAtMs = nowMs;
  inst.nextAtMs = null;
}

export function fatalMessage(status: "created" | "exited", custom?: string): string {
  return custom ?? FATAL_MESSAGES[status];
}
