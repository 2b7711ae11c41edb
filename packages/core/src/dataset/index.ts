export { type DatasetEntry, type DatasetReader, DatasetSourceError } from "./entries";
export {
  checkEntryName,
  classifyEntry,
  type EntryKind,
  MANIFEST_NAME,
  MARKER_NAME,
  UnsafeDatasetEntryError,
} from "./entry-name";
export { type HttpsArchiveOptions, httpsArchiveReader } from "./https-source";
export { localDatasetReader } from "./local-source";
export {
  type PackedDataset,
  type PackOptions,
  type PackSummary,
  type PushProgress,
  packDataset,
} from "./pack";
export {
  type DatasetCompression,
  DatasetPushError,
  isDatasetPresent,
  type PushDatasetOptions,
  type PushDatasetResult,
  pushDataset,
  readDatasetMarker,
} from "./push";
export { s3DatasetReader } from "./s3-source";
export * from "./source";
export { type DatasetReaderDeps, datasetReaderFor } from "./source-reader";
