/**
 * Turns a `SearchOffersRequest` into Vast's offer query (docs/vast-quirks.md#offer-query). Unknown GPUs and
 * regions fail here, before any network call, as `invalid_request`.
 */
import { z } from "zod";
import { VastAIError } from "./errors";
import { resolveGpuNames } from "./gpu-catalog";
import { type SearchOffersQuery, type SearchOffersRequest, SearchOffersRequestSchema } from "./model";
import { resolveRegion } from "./regions";

/** The request after validation, with its GPU alias and region expanded to Vast's values. */
export interface ResolvedOfferRequest {
  request: SearchOffersQuery;
  gpuNames: readonly string[];
  /** null = anywhere. */
  countryCodes: readonly string[] | null;
}

/** The JSON body of `POST /api/v0/bundles/`. */
export type VastOfferQuery = Record<string, unknown>;

const invalid = (message: string, cause?: unknown) =>
  new VastAIError({ code: "invalid_request", message, endpoint: "search offers", cause });

export function resolveOfferRequest(input: SearchOffersRequest): ResolvedOfferRequest {
  const parsed = SearchOffersRequestSchema.safeParse(input);
  if (!parsed.success) throw invalid(`Invalid offer search: ${z.prettifyError(parsed.error)}`);
  const request = parsed.data;
  const gpuNames = resolveGpuNames(request.gpuType);
  if (!gpuNames) throw invalid(`Unknown GPU type "${request.gpuType}"`);
  let countryCodes: readonly string[] | null = null;
  if (request.region !== undefined) {
    countryCodes = resolveRegion(request.region);
    if (!countryCodes)
      throw invalid(
        `Unknown region "${request.region}" (use a group such as US, EU or ASIA, or an ISO-3166 code)`,
      );
  }
  return { request, gpuNames, countryCodes };
}

const oneOrMany = (values: readonly string[]) =>
  values.length === 1 ? { eq: values[0] } : { in: [...values] };

export function queryFromResolved({ request, gpuNames, countryCodes }: ResolvedOfferRequest): VastOfferQuery {
  const query: VastOfferQuery = {
    gpu_name: oneOrMany(gpuNames),
    num_gpus: { eq: request.numGpus },
    dph_total: { lte: request.maxHourlyUsd },
    rentable: { eq: true },
    rented: { eq: false },
  };
  if (countryCodes) query.geolocation = { in: [...countryCodes] };
  if (request.verifiedOnly) query.verified = { eq: true };
  // gpu_ram is MiB-like; the normalizer reports round(gpu_ram / 1024) GB, so ask for everything
  // that rounds up to the requested size (a "24 GB" card reports 24564).
  if (request.minVramGb !== undefined) query.gpu_ram = { gte: Math.floor((request.minVramGb - 0.5) * 1024) };
  if (request.minReliability !== undefined) query.reliability = { gte: request.minReliability };
  if (request.minDiskGb !== undefined) {
    query.disk_space = { gte: request.minDiskGb };
    // dph_total includes storage for `allocated_storage`; price what we will actually rent.
    query.allocated_storage = request.minDiskGb;
  }
  if (request.minInetDownMbps !== undefined) query.inet_down = { gte: request.minInetDownMbps };
  if (request.minCudaVersion !== undefined) query.cuda_max_good = { gte: request.minCudaVersion };
  query.order = [["dph_total", "asc"]];
  query.type = "on-demand";
  // Ask for a few more so excluded machines do not shrink the answer.
  query.limit = Math.min(1000, request.limit + request.excludeMachineIds.length);
  return query;
}

/** Vast's query for a request; throws `invalid_request` for bad input, unknown GPUs or regions. */
export function buildOfferQuery(input: SearchOffersRequest): VastOfferQuery {
  return queryFromResolved(resolveOfferRequest(input));
}
