/**
 * What an attempt costs, priced the way Vast bills it:
 * - the GPU (`dph_base`) only while the instance runs: from Vast's `start_date` of the running
 *   instance (recorded at readiness as `runningSince`, or read when an attempt ends before
 *   readiness saw it run) until the destroy was accepted;
 * - the disk (`storage_cost` $/GB/month × disk GB ÷ 720 per hour) from the create until the
 *   destroy, whatever the state (a stopped instance keeps paying for it);
 * - bandwidth (`inet_down_cost` $/GB) for the dataset bytes pushed in.
 * Boot time before `running` is storage only, so charging `dph_total` from the create — as this
 * code once did — overstated a 20-second job about 2.3 times. That conservative figure survives
 * only as `attemptCostBound`, for budget checks while an instance is still alive.
 */
import type { AttemptRecord, CostBreakdown } from "../../store";
import { ZERO_COST } from "../../store";

const MS_PER_HOUR = 3_600_000;
const BYTES_PER_GB = 1e9;

const hoursBetween = (fromMs: number, toMs: number) => Math.max(0, toMs - fromMs) / MS_PER_HOUR;

/** The attempt's cost had it ended at `endedAtMs` (the time Vast accepted the destroy). */
export function attemptCost(record: AttemptRecord, endedAtMs: number): CostBreakdown {
  if (record.instanceId === null) return ZERO_COST;
  const rentedAt = record.rentedAt ?? record.startedAt;
  const bandwidthUsd = (record.bytesPushed / BYTES_PER_GB) * (record.bandwidthUsdPerGb ?? 0);
  if (record.gpuHourlyUsd === null || record.storageHourlyUsd === null) {
    // The offer's rates were not kept: the whole rental at its full rate is the honest ceiling.
    return { gpuUsd: record.hourlyUsd * hoursBetween(rentedAt, endedAtMs), storageUsd: 0, bandwidthUsd };
  }
  const gpuUsd =
    record.runningSince === null
      ? 0
      : record.gpuHourlyUsd * hoursBetween(Math.max(record.runningSince, record.startedAt), endedAtMs);
  return { gpuUsd, storageUsd: record.storageHourlyUsd * hoursBetween(rentedAt, endedAtMs), bandwidthUsd };
}

/** A ceiling on what a live attempt has cost by `nowMs`: as if the GPU had billed since the create. */
export function attemptCostBound(record: AttemptRecord, nowMs: number): number {
  if (record.instanceId === null) return 0;
  const rate = Math.max(record.hourlyUsd, (record.gpuHourlyUsd ?? 0) + (record.storageHourlyUsd ?? 0));
  const bandwidth = (record.bytesPushed / BYTES_PER_GB) * (record.bandwidthUsdPerGb ?? 0);
  return rate * hoursBetween(record.rentedAt ?? record.startedAt, nowMs) + bandwidth;
}

export function totalCost(cost: CostBreakdown): number {
  return cost.gpuUsd + cost.storageUsd + cost.bandwidthUsd;
}

/** Storage per hour for `diskGb` at `storage_cost` ($/GB/month, Vast's 720-hour month). */
export function storageHourlyUsd(storageUsdPerGbMonth: number, diskGb: number): number {
  return (storageUsdPerGbMonth * diskGb) / 720;
}
