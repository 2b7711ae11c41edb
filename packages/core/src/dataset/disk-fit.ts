/**
 * Whether a job's disk can hold what the run puts on it: the dataset, the base model as the
 * trainer downloads it, and the run's outputs (checkpoints, samples). A pure function of sizes,
 * for the orchestrator to call with the requested disk before renting (the training template
 * knows the model cache and outputs sizes; the inspection knows the dataset's bytes).
 */
import { BYTES_PER_GB, formatBytes } from "./units";

export interface DiskFitInput {
  /** The job's disk, in GB (10^9 bytes, as Vast sizes disks). */
  diskGb: number;
  /** The dataset's expanded size in bytes; null when unknown (an archive not yet streamed). */
  datasetBytes: number | null;
  /** The base model as downloaded into the trainer's cache, in GB. */
  modelCacheGb: number;
  /** Room kept for checkpoints and samples, in GB. */
  outputsReserveGb: number;
}

/**
 * Null when everything fits; otherwise why not, e.g. "the dataset (31.2 GB) plus the model cache
 * (34 GB) and outputs (4 GB) do not fit the job's 64 GB disk". No hidden margin: the model and
 * outputs figures are already rounded up. The dataset's size is rounded up for display, so the
 * figures in the message always add up to more than the disk.
 */
export function datasetDiskShortfall(input: DiskFitInput): string | null {
  const { diskGb, datasetBytes, modelCacheGb, outputsReserveGb } = input;
  const needed = (datasetBytes ?? 0) + (modelCacheGb + outputsReserveGb) * BYTES_PER_GB;
  if (needed <= diskGb * BYTES_PER_GB) return null;
  const rest = `the model cache (${gb(modelCacheGb)}) and outputs (${gb(outputsReserveGb)})`;
  if (datasetBytes === null) return `${rest} alone do not fit the job's ${gb(diskGb)} disk`;
  return `the dataset (${datasetSize(datasetBytes)}) plus ${rest} do not fit the job's ${gb(diskGb)} disk`;
}

const gb = (value: number) => `${Number.isInteger(value) ? value : value.toFixed(1)} GB`;

/** Rounded up to 0.1 GB (below that, the exact smaller unit). */
function datasetSize(bytes: number): string {
  if (bytes < BYTES_PER_GB / 10) return formatBytes(bytes);
  return `${(Math.ceil(bytes / (BYTES_PER_GB / 10)) / 10).toFixed(1)} GB`;
}
