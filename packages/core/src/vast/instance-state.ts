/**
 * Collapses Vast's status fields (`actual_status`, `cur_state`, `status_msg`) into one
 * lifecycle state. Failures often show only in `status_msg` while the status still says
 * "created" or "loading", so a fatal message there means the instance will never come up.
 */
import type { InstanceState } from "./model";

/** Messages that mean the container cannot start (image missing, registry auth, OCI errors). */
const FATAL_STATUS_MESSAGES: readonly RegExp[] = [
  /OCI runtime create failed/i,
  /pull access denied/i,
  /manifest\b.*\b(unknown|not found)/i,
  /unauthorized/i,
];

const STATUS_MAP: Readonly<Record<string, InstanceState>> = {
  created: "provisioning",
  scheduling: "provisioning",
  loading: "loading",
  rebooting: "loading",
  running: "running",
  stopped: "stopped",
  frozen: "stopped",
  exited: "exited",
  offline: "offline",
  unknown: "unknown",
};

export function isFatalStatusMessage(message: string | null): boolean {
  return !!message && FATAL_STATUS_MESSAGES.some((pattern) => pattern.test(message));
}

export interface InstanceStatusFields {
  actualStatus: string | null;
  curState: string | null;
  statusMessage: string | null;
}

export function deriveInstanceState({
  actualStatus,
  curState,
  statusMessage,
}: InstanceStatusFields): InstanceState {
  if (curState?.toLowerCase() === "unloaded") return "destroyed";
  const status = actualStatus?.toLowerCase() ?? null;
  const state: InstanceState =
    status === null ? "provisioning" : Object.hasOwn(STATUS_MAP, status) ? STATUS_MAP[status]! : "unknown";
  if ((state === "provisioning" || state === "loading") && isFatalStatusMessage(statusMessage))
    return "failed";
  return state;
}
