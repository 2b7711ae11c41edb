/**
 * Chooses which offers to try, in order: cheapest first among those above the reliability
 * floor, skipping machines that failed recently (host reputation).
 */
import type { VastOffer } from "../vast/model";

export interface RankOptions {
  minReliability: number;
  maxHourlyUsd: number;
  /** Machines with recent failures: never rented again within the reputation window. */
  excludeMachineIds?: ReadonlySet<number>;
}

export function rankOffers(offers: readonly VastOffer[], options: RankOptions): VastOffer[] {
  const excluded = options.excludeMachineIds ?? new Set<number>();
  return offers
    .filter((o) => o.reliability >= options.minReliability)
    .filter((o) => o.hourlyUsd <= options.maxHourlyUsd)
    .filter((o) => o.machineId === null || !excluded.has(o.machineId))
    .sort((a, b) => a.hourlyUsd - b.hourlyUsd || b.reliability - a.reliability || a.id - b.id);
}
