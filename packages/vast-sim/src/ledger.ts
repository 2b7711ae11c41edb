/**
 * Billing, as Vast bills: GPU (`dph_base`, or the bid) only while `running`; storage
 * (`storage_cost` $/GB/month × disk GB / 720 per hour) from creation until destroy, including
 * while stopped; bandwidth per GB (10^9 bytes) pushed into the instance at the offer's
 * `inet_down_cost`. Computed from the state history to the millisecond; amounts are integer
 * micro-dollars, exposed also as USD rounded to the cent.
 */
import type { SimInstance } from "./instance";

export interface LedgerAmounts {
  gpuMicros: number;
  storageMicros: number;
  bandwidthMicros: number;
  totalMicros: number;
  /** totalMicros in USD, rounded to the cent. */
  totalUsd: number;
}

export interface InstanceLedger extends LedgerAmounts {
  instanceId: number;
  runningSeconds: number;
  storageSeconds: number;
  bytesReceived: number;
  gpuDph: number;
  storageDph: number;
  bandwidthUsdPerGb: number;
}

const MS_PER_HOUR = 3_600_000;

export function storageDph(inst: SimInstance): number {
  return (inst.offer.storage_cost * inst.diskGb) / 720;
}

export function bandwidthRate(inst: SimInstance, override: number | null): number {
  return override ?? inst.offer.inet_down_cost;
}

function amounts(gpu: number, storage: number, bandwidth: number): LedgerAmounts {
  const totalMicros = gpu + storage + bandwidth;
  return {
    gpuMicros: gpu,
    storageMicros: storage,
    bandwidthMicros: bandwidth,
    totalMicros,
    totalUsd: Math.round(totalMicros / 10_000) / 100,
  };
}

export function instanceLedger(
  inst: SimInstance,
  nowMs: number,
  bandwidthUsdPerGb: number | null,
): InstanceLedger {
  let runningMs = 0;
  const end = inst.destroyedAtMs ?? nowMs;
  for (let i = 0; i < inst.history.length; i++) {
    const entry = inst.history[i]!;
    if (entry.actual_status !== "running") continue;
    const until = Math.min(inst.history[i + 1]?.atMs ?? end, end);
    runningMs += Math.max(0, until - entry.atMs);
  }
  const storageMs = Math.max(0, end - inst.createdAtMs);
  const sDph = storageDph(inst);
  const rate = bandwidthRate(inst, bandwidthUsdPerGb);
  const gpu = Math.round((runningMs * inst.gpuDph * 1e6) / MS_PER_HOUR);
  const storage = Math.round((storageMs * sDph * 1e6) / MS_PER_HOUR);
  const bandwidth = Math.round((inst.bytesReceived / 1e9) * rate * 1e6);
  return {
    instanceId: inst.id,
    runningSeconds: runningMs / 1000,
    storageSeconds: storageMs / 1000,
    bytesReceived: inst.bytesReceived,
    gpuDph: inst.gpuDph,
    storageDph: sDph,
    bandwidthUsdPerGb: rate,
    ...amounts(gpu, storage, bandwidth),
  };
}

export function totalLedger(ledgers: readonly InstanceLedger[]): LedgerAmounts {
  return amounts(
    ledgers.reduce((s, l) => s + l.gpuMicros, 0),
    ledgers.reduce((s, l) => s + l.storageMicros, 0),
    ledgers.reduce((s, l) => s + l.bandwidthMicros, 0),
  );
}
