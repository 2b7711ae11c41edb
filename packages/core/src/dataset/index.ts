export { type DiskFitInput, datasetDiskShortfall } from "./disk-fit";
export { type DatasetEntry, type DatasetReader, DatasetSourceError } from "./entries";
export {
  checkEntryName,
  classifyEntry,
  type EntryKind,
  MANIFEST_NAME,
  MARKER_NAME,
  UnsafeDatasetEntryError,
} from "./entry-name";
export {
  type HttpsArchiveOptions,
  httpsArchiveReader,
  isTransientHttpStatus,
} from "./https-source";
export {
  type DatasetInspection,
  DEFAULT_INSPECT_TIMEOUT_MS,
  type InspectDatasetDeps,
  type InspectDatasetOptions,
  inspectDataset,
} from "./inspect";
export { localDatasetReader } from "./local-source";
export {
  type PackedDataset,
  type PackOptions,
  type PackSummary,
  type PushProgress,
  packDataset,
} from "./pack";
export {
  checkDatasetListing,
  checkedDatasetReader,
  type DatasetLimits,
  type DatasetPolicy,
  DatasetRejectedError,
  type DatasetTallySummary,
  isListingSource,
} from "./policy";
export {
  type DatasetCompression,
  DatasetPushError,
  type DatasetPushFailure,
  isDatasetPresent,
  type PushDatasetOptions,
  type PushDatasetResult,
  pushDataset,
  pushFailureOfExitCode,
  readDatasetMarker,
} from "./push";
export { EXIT_MANIFEST_MISMATCH, EXIT_MANIFEST_MISSING, EXIT_NO_SPACE } from "./remote-extract";
export { PERMANENT_S3_ERROR_NAMES, permanentS3Failure, type S3Location } from "./s3-errors";
export { s3DatasetReader } from "./s3-source";
export * from "./source";
export { type DatasetReaderDeps, datasetReaderFor } from "./source-reader";
