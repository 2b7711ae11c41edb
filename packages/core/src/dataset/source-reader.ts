/** Turns a validated `DatasetSource` (intake contract) into a reader, with its clients passed in. */
import type { S3Client } from "@aws-sdk/client-s3";
import { type DatasetReader, DatasetSourceError } from "./entries";
import { type HttpsArchiveOptions, httpsArchiveReader } from "./https-source";
import { localDatasetReader } from "./local-source";
import { s3DatasetReader } from "./s3-source";
import type { DatasetSource } from "./source";

export interface DatasetReaderDeps {
  s3?: S3Client;
  /** How archives are fetched: `policy` (the deployment's outbound allowlist; default strict) and a test CA's agent. */
  https?: HttpsArchiveOptions;
  /** Local folders exist only in the local stack; the cloud handler leaves this false. */
  allowLocal?: boolean;
}

export function datasetReaderFor(source: DatasetSource, deps: DatasetReaderDeps = {}): DatasetReader {
  switch (source.kind) {
    case "s3":
      if (!deps.s3) {
        throw new DatasetSourceError("an S3 client is required for s3 dataset sources", { permanent: true });
      }
      return s3DatasetReader(deps.s3, source.bucket, source.prefix);
    case "https":
      return httpsArchiveReader(source.url, deps.https);
    case "local":
      if (!deps.allowLocal)
        throw new DatasetSourceError("local dataset sources are only allowed in the local stack", {
          permanent: true,
        });
      return localDatasetReader(source.path);
  }
}
