/**
 * Raw Vast offer JSON → `VastOffer`. Never throws. An offer without an id, a GPU name,
 * a GPU count or a price cannot be ranked or rented, so it normalizes to null.
 */
import { countryCodeOf } from "./countries";
import type { VastOffer } from "./model";
import { RawOfferSchema } from "./raw-schemas";

const nonNegative = (value: number | null): number => (value !== null && value > 0 ? value : 0);
const nonNegativeOrNull = (value: number | null): number | null =>
  value !== null && value >= 0 ? value : null;

export function normalizeOffer(raw: unknown): VastOffer | null {
  const parsed = RawOfferSchema.safeParse(raw);
  if (!parsed.success) return null;
  const r = parsed.data;
  const id = r.id ?? r.ask_contract_id;
  const hourlyUsd = r.dph_total ?? r.search?.totalHour ?? null;
  if (id === null || id <= 0 || !r.gpu_name || r.num_gpus === null || r.num_gpus < 1) return null;
  if (hourlyUsd === null || hourlyUsd < 0) return null;

  // `gpu_ram` is per GPU and, despite the docs saying MB, behaves like MiB (24564 on a 24 GB card).
  const perGpuRam = r.gpu_ram ?? (r.gpu_total_ram === null ? null : r.gpu_total_ram / r.num_gpus);
  const reliability = r.reliability2 ?? r.reliability ?? 0;

  return {
    id,
    machineId: r.machine_id,
    hostId: r.host_id,
    gpuName: r.gpu_name,
    numGpus: r.num_gpus,
    gpuRamGb: Math.round(nonNegative(perGpuRam) / 1024),
    hourlyUsd,
    gpuHourlyUsd: nonNegativeOrNull(r.dph_base),
    storageUsdPerGbMonth: nonNegativeOrNull(r.storage_cost),
    inetDownUsdPerGb: nonNegativeOrNull(r.inet_down_cost),
    reliability: Math.min(1, Math.max(0, reliability)),
    countryCode: countryCodeOf(r.country_code, r.geolocation),
    geolocation: r.geolocation,
    diskGb: nonNegative(r.disk_space),
    inetDownMbps: nonNegative(r.inet_down),
    inetUpMbps: nonNegative(r.inet_up),
    cudaMaxGood: r.cuda_max_good,
    verified: r.verified ?? r.verification?.toLowerCase() === "verified",
    directPortCount: Math.max(0, r.direct_port_count ?? 0),
  };
}
