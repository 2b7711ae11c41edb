/**
 * The offer search a job makes, in one place for provisioning and `GET /v1/offers`: the request's
 * own constraints, raised to what its training template needs from a host — the VRAM and GPU
 * count, a driver that runs the image's CUDA version (`cuda_max_good`), a disk that holds the
 * dataset, the model cache and the outputs — and a minimum download bandwidth, since the run
 * starts by downloading its base model on billed GPU time.
 */
import type { TemplateHostNeeds } from "../training/template-files";
import type { SearchOffersRequest } from "../vast/model";

const BYTES_PER_GB = 1e9;

/** The offer constraints of a job request (`JobRequestSchema`'s fields). */
export interface JobOfferConstraints {
  gpuType: string;
  region?: string;
  maxHourlyUsd: number;
  numGpus: number;
  minVramGb?: number;
  minReliability: number;
  minDiskGb?: number;
  /** The disk the job rents, in GB. */
  diskGb: number;
  /** Mb/s; 0 = no floor. */
  minInetDownMbps: number;
}

export type JobOfferSearch = Omit<SearchOffersRequest, "excludeMachineIds" | "limit"> & {
  numGpus: number;
  minVramGb: number;
  minDiskGb: number;
  minCudaVersion: number;
};

/**
 * The search for a job: `datasetBytes` is the dataset's size once extracted when known (null
 * before the dataset was checked, as in `GET /v1/offers`).
 */
export function jobOfferSearch(
  request: JobOfferConstraints,
  host: TemplateHostNeeds,
  datasetBytes: number | null = null,
): JobOfferSearch {
  const runDiskGb = Math.ceil(
    ((datasetBytes ?? 0) + (host.modelCacheGb + host.outputsReserveGb) * BYTES_PER_GB) / BYTES_PER_GB,
  );
  return {
    gpuType: request.gpuType,
    ...(request.region !== undefined ? { region: request.region } : {}),
    maxHourlyUsd: request.maxHourlyUsd,
    numGpus: Math.max(request.numGpus, host.gpuCount),
    minVramGb: Math.max(request.minVramGb ?? 0, host.minVramGb),
    minReliability: request.minReliability,
    // The instance's disk must fit the size rented, whatever the stated minimum, and the run.
    minDiskGb: Math.max(request.minDiskGb ?? 0, request.diskGb, runDiskGb),
    ...(request.minInetDownMbps > 0 ? { minInetDownMbps: request.minInetDownMbps } : {}),
    minCudaVersion: host.minCudaVersion,
  };
}

/** The search in words, for a job that found nothing: "1× RTX 4090 in US, at most $1/h, …". */
export function describeOfferSearch(search: JobOfferSearch): string {
  const parts = [
    `${search.numGpus}× ${search.gpuType}`,
    search.region ? `in ${search.region}` : null,
    `at most $${search.maxHourlyUsd}/h`,
    search.minReliability !== undefined ? `reliability ≥ ${search.minReliability}` : null,
    `≥ ${search.minVramGb} GB VRAM`,
    `≥ ${search.minDiskGb} GB disk`,
    `CUDA ≥ ${search.minCudaVersion}`,
    search.minInetDownMbps !== undefined ? `download ≥ ${search.minInetDownMbps} Mb/s` : null,
  ];
  return parts.filter(Boolean).join(", ");
}
