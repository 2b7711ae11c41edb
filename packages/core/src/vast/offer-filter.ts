/**
 * The marketplace may return offers that do not match the query (stale rows, loose
 * filters), so every hard constraint is checked again on the normalized offers, excluded
 * machines are dropped, and the rest is ranked: cheapest first, then most reliable.
 */
import { gpuKey } from "./gpu-catalog";
import type { VastOffer } from "./model";
import type { ResolvedOfferRequest } from "./offer-query";

const PRICE_EPSILON = 1e-9;

export function matchesOfferRequest(offer: VastOffer, resolved: ResolvedOfferRequest): boolean {
  const { request, gpuNames, countryCodes } = resolved;
  if (!gpuNames.some((name) => gpuKey(name) === gpuKey(offer.gpuName))) return false;
  if (offer.numGpus !== request.numGpus) return false;
  if (offer.hourlyUsd > request.maxHourlyUsd + PRICE_EPSILON) return false;
  if (countryCodes && (!offer.countryCode || !countryCodes.includes(offer.countryCode))) return false;
  if (request.verifiedOnly && !offer.verified) return false;
  if (request.minVramGb !== undefined && offer.gpuRamGb < request.minVramGb) return false;
  if (request.minReliability !== undefined && offer.reliability < request.minReliability) return false;
  if (request.minDiskGb !== undefined && offer.diskGb < request.minDiskGb) return false;
  if (request.minInetDownMbps !== undefined && offer.inetDownMbps < request.minInetDownMbps) return false;
  if (request.minCudaVersion !== undefined && (offer.cudaMaxGood ?? 0) < request.minCudaVersion) return false;
  return true;
}

export function compareOffers(a: VastOffer, b: VastOffer): number {
  return a.hourlyUsd - b.hourlyUsd || b.reliability - a.reliability || a.id - b.id;
}

/** Matching offers, minus excluded machines and duplicates, cheapest first, at most `limit`. */
export function selectOffers(offers: readonly VastOffer[], resolved: ResolvedOfferRequest): VastOffer[] {
  const excluded = new Set(resolved.request.excludeMachineIds);
  const seen = new Set<number>();
  return offers
    .filter((offer) => {
      if (seen.has(offer.id)) return false;
      seen.add(offer.id);
      return offer.machineId === null || !excluded.has(offer.machineId);
    })
    .filter((offer) => matchesOfferRequest(offer, resolved))
    .sort(compareOffers)
    .slice(0, resolved.request.limit);
}
