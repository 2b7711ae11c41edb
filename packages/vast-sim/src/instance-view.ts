/**
 * An instance as Vast's show/list endpoints return it: raw field names, `ports` only while
 * running (HostPort as a string), proxy `ssh_host`/`ssh_port` already set while loading, nulls
 * where Vast leaves them null, `cuda_max_good` as a string, `gpu_totalram` (not
 * `gpu_total_ram`), `reliability2` only, `extra_env` as a list of pairs.
 */
import type { SimInstance } from "./instance";
import { storageDph } from "./ledger";

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

export function renderInstance(inst: SimInstance, nowMs: number): Record<string, unknown> {
  const o = inst.offer;
  const running = inst.actual === "running";
  const diskHour = round6(storageDph(inst));
  const gpuHour = inst.gpuDph;
  const billing = {
    gpuCostPerHour: running ? gpuHour : 0,
    diskHour,
    totalHour: round6((running ? gpuHour : 0) + diskHour),
    discountTotalHour: 0,
    discountedTotalPerHour: round6((running ? gpuHour : 0) + diskHour),
  };
  const startDate = inst.startedAtMs === null ? null : inst.startedAtMs / 1000;
  return {
    id: inst.id,
    machine_id: o.machine_id,
    host_id: o.host_id,
    bundle_id: o.id + 1_000_000,
    actual_status: inst.actual,
    intended_status: inst.intended,
    cur_state: inst.cur,
    next_state: inst.next ?? inst.intended,
    status_msg: inst.statusMsg,
    label: inst.label,
    template_id: null,
    template_hash_id: null,
    template_name: null,
    image_uuid: inst.image,
    image_args: inst.args ?? [],
    image_runtype: inst.runtype,
    extra_env: Object.entries(inst.env),
    onstart: inst.onstart,
    jupyter_token: null,
    ssh_host: "127.0.0.1",
    ssh_port: inst.sshPort,
    ssh_idx: "0",
    machine_dir_ssh_port: null,
    public_ipaddr: "127.0.0.1",
    local_ipaddrs: "10.2.0.17 172.17.0.1 \n",
    ...(running ? { ports: { "22/tcp": [{ HostIp: "0.0.0.0", HostPort: String(inst.sshPort) }] } } : {}),
    direct_port_count: o.direct_port_count,
    direct_port_start: running ? inst.sshPort : -1,
    direct_port_end: running ? inst.sshPort : -1,
    static_ip: o.static_ip,
    inet_up: o.inet_up,
    inet_down: o.inet_down,
    inet_up_cost: o.inet_up_cost,
    inet_down_cost: o.inet_down_cost,
    geolocation: o.geolocation,
    country_code: o.country_code,
    start_date: startDate,
    end_date: o.end_date,
    duration: startDate === null ? null : Math.max(0, nowMs / 1000 - startDate),
    uptime_mins:
      running && inst.startedAtMs !== null ? Math.floor((nowMs - inst.startedAtMs) / 60_000) : null,
    client_run_time: null,
    host_run_time: null,
    gpu_name: o.gpu_name,
    gpu_ram: o.gpu_ram,
    gpu_totalram: o.gpu_total_ram,
    gpu_util: running ? 0 : null,
    gpu_temp: running ? 34 : null,
    gpu_frac: o.gpu_frac,
    gpu_lanes: o.gpu_lanes,
    gpu_mem_bw: o.gpu_mem_bw,
    gpu_arch: o.gpu_arch,
    num_gpus: o.num_gpus,
    cuda_max_good: String(o.cuda_max_good),
    driver_version: o.driver_version,
    cpu_name: o.cpu_name,
    cpu_cores: o.cpu_cores,
    cpu_cores_effective: o.cpu_cores_effective,
    cpu_ram: o.cpu_ram,
    cpu_util: running ? 0.5 : null,
    cpu_arch: o.cpu_arch,
    mem_limit: running ? o.cpu_ram / 1000 : null,
    mem_usage: running ? 0.3 : null,
    vmem_usage: running ? 0.3 : null,
    disk_name: o.disk_name,
    disk_space: inst.diskGb,
    disk_bw: o.disk_bw,
    disk_util: running ? 0.1 : -1,
    disk_usage: running ? 0.1 : -1,
    volume_info: null,
    dph_base: o.dph_base,
    dph_total: round6(gpuHour + diskHour),
    min_bid: o.min_bid,
    is_bid: inst.isBid,
    search: {
      gpuCostPerHour: gpuHour,
      diskHour,
      totalHour: round6(gpuHour + diskHour),
      discountTotalHour: 0,
      discountedTotalPerHour: round6(gpuHour + diskHour),
    },
    instance: billing,
    storage_cost: o.storage_cost,
    storage_total_cost: diskHour,
    credit_balance: null,
    credit_discount: null,
    credit_discount_max: o.credit_discount_max,
    reliability2: o.reliability2,
    verification: o.verification,
    hosting_type: o.hosting_type,
    dlperf: o.dlperf,
    score: o.score,
  };
}
