/**
 * Raw Vast instance JSON → `VastInstance`. Never throws: anything unusable becomes null,
 * and only a record without a usable id is rejected as a whole.
 */
import { countryCodeOf } from "./countries";
import { deriveInstanceState } from "./instance-state";
import type { VastInstance } from "./model";
import { RawInstanceSchema } from "./raw-schemas";

const isPort = (port: number | null): port is number => port !== null && port >= 1 && port <= 65535;

export function normalizeInstance(raw: unknown): VastInstance | null {
  const parsed = RawInstanceSchema.safeParse(raw);
  if (!parsed.success) return null;
  const r = parsed.data;
  if (r.id === null || r.id <= 0) return null;

  // The direct mapping skips Vast's proxy hop; the proxy is the fallback (it may be all there is
  // while loading, and `ports` is only present on running instances).
  let ssh: Pick<VastInstance, "sshHost" | "sshPort" | "sshVia"> = {
    sshHost: null,
    sshPort: null,
    sshVia: null,
  };
  if (r.public_ipaddr && isPort(r.ports.ssh)) {
    ssh = { sshHost: r.public_ipaddr, sshPort: r.ports.ssh, sshVia: "direct" };
  } else if (r.ssh_host && isPort(r.ssh_port)) {
    ssh = { sshHost: r.ssh_host, sshPort: r.ssh_port, sshVia: "proxy" };
  }

  return {
    instanceId: r.id,
    state: deriveInstanceState({
      actualStatus: r.actual_status,
      curState: r.cur_state,
      statusMessage: r.status_msg,
    }),
    rawStatus: r.actual_status,
    intendedStatus: r.intended_status,
    statusMessage: r.status_msg,
    label: r.label,
    machineId: r.machine_id,
    hostId: r.host_id,
    gpuName: r.gpu_name,
    numGpus: r.num_gpus,
    hourlyUsd: r.dph_total,
    publicIp: r.public_ipaddr,
    ...ssh,
    countryCode: countryCodeOf(r.country_code, r.geolocation),
    // `start_date` is epoch seconds (a float).
    startedAtMs: r.start_date === null ? null : Math.round(r.start_date * 1000),
  };
}
