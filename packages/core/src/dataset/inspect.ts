/**
 * Looks at a dataset before a GPU is rented for it, so a dataset that cannot work fails the job
 * at once with a reason a person understands, instead of after the rent (and hours of retries).
 *
 * - S3 prefix: every page listed; every name, clash, limit and the image/caption policy checked
 *   from the listing; then one listed object read (`Range: bytes=0-0`), because a bucket policy
 *   can allow listing and still deny reading.
 * - HTTPS archive: a `HEAD` (a one-byte ranged `GET` when the server refuses `HEAD`) proves the
 *   URL answers and gives the archive's size; its content is only known once it streams, where
 *   `checkedDatasetReader` applies the same rules. Every hop, redirects included, is held to the
 *   outbound policy in `deps.https` (see `requestFollowingRedirects`): a URL pointing at a private
 *   or loopback address is rejected before anything connects.
 * - Local folder (local stack only): listed like the local reader does.
 *
 * Outcomes: a `DatasetInspection`; a `DatasetRejectedError` for anything permanent; any other
 * error (network, 5xx, 429/408, S3 throttling, the deadline) is transient: retry later.
 */
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { DEPLOYMENT } from "../deployment/settings";
import { DatasetSourceError } from "./entries";
import { checkEntryName, classifyEntry, UnsafeDatasetEntryError } from "./entry-name";
import { httpStatusError, redactQuery, requestFollowingRedirects } from "./https-source";
import { checkDatasetListing, type DatasetPolicy, DatasetRejectedError, DatasetTally } from "./policy";
import { s3SourceError } from "./s3-errors";
import { listS3Objects, type S3ListedObject, s3Folder } from "./s3-source";
import type { DatasetSource } from "./source";
import { type DatasetReaderDeps, datasetReaderFor } from "./source-reader";
import { formatBytes } from "./units";

export interface DatasetInspection {
  kind: DatasetSource["kind"];
  /** Entries found (listing sources); null for an archive, whose content is known only when streamed. */
  files: number | null;
  /** Expanded payload bytes (the sum of file sizes) when known: listing sources only. */
  bytes: number | null;
  /** The archive's own size from `Content-Length` / `Content-Range` (HTTPS); null when not announced. */
  archiveBytes: number | null;
}

/** The clients a source needs, as for `datasetReaderFor`. */
export type InspectDatasetDeps = DatasetReaderDeps;

export interface InspectDatasetOptions {
  /** Limits, image count and caption rules (the same object the push's `checkedDatasetReader` gets). */
  policy: DatasetPolicy;
  /** When given, an S3 source in any other bucket is refused before any call is made. */
  allowedBuckets?: readonly string[] | null;
  /** Deadline for the whole inspection (every S3 page, or the HTTPS probe); default 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The deadline the provision function allows a dataset check (`DEPLOYMENT.stepDeadlines`). */
export const DEFAULT_INSPECT_TIMEOUT_MS = DEPLOYMENT.stepDeadlines.datasetInspectionSeconds * 1000;

export async function inspectDataset(
  source: DatasetSource,
  deps: InspectDatasetDeps,
  options: InspectDatasetOptions,
): Promise<DatasetInspection> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_INSPECT_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  try {
    switch (source.kind) {
      case "s3":
        return await inspectS3(source, deps, options, signal);
      case "https":
        return await inspectHttps(source.url, deps, options.policy, signal);
      case "local": {
        const summary = await checkDatasetListing(datasetReaderFor(source, deps), options.policy, signal);
        return { kind: "local", files: summary.files, bytes: summary.bytes, archiveBytes: null };
      }
    }
  } catch (error) {
    if (error instanceof DatasetRejectedError) throw error;
    if (error instanceof UnsafeDatasetEntryError)
      throw new DatasetRejectedError(error.message, { cause: error });
    if (error instanceof DatasetSourceError && error.permanent) {
      throw new DatasetRejectedError(error.message, { cause: error });
    }
    if (deadline.aborted) {
      throw new DatasetSourceError(`inspecting the dataset timed out after ${timeoutMs} ms`, {
        cause: error,
      });
    }
    throw error;
  }
}

async function inspectS3(
  source: Extract<DatasetSource, { kind: "s3" }>,
  deps: InspectDatasetDeps,
  options: InspectDatasetOptions,
  signal: AbortSignal,
): Promise<DatasetInspection> {
  const { bucket } = source;
  if (options.allowedBuckets && !options.allowedBuckets.includes(bucket)) {
    throw new DatasetRejectedError(`the deployment may not read the S3 bucket "${bucket}"`);
  }
  if (!deps.s3) {
    throw new DatasetSourceError("an S3 client is required for s3 dataset sources", { permanent: true });
  }
  const folder = s3Folder(source.prefix);
  const tally = new DatasetTally(options.policy.limits);
  let listed = 0;
  /** The object whose read proves access: one the push will read, and not empty if possible. */
  let probe: S3ListedObject | undefined;
  const better = (object: S3ListedObject) => probe === undefined || (probe.size === 0 && object.size > 0);
  for await (const object of listS3Objects(deps.s3, bucket, folder, { signal })) {
    listed++;
    tally.add({ path: object.path, size: object.size, kind: "file" });
    if (classifyEntry(checkEntryName(object.path)) !== "skip" && better(object)) probe = object;
  }
  if (listed === 0) {
    throw new DatasetRejectedError(
      `the dataset contains no images (jpg, jpeg, png or webp): nothing is stored under s3://${bucket}/${folder}`,
    );
  }
  if (probe) await proveS3Read(deps.s3, bucket, probe, signal);
  const summary = tally.verdict(options.policy);
  return { kind: "s3", files: summary.files, bytes: summary.bytes, archiveBytes: null };
}

/** Reads one byte of `object` (all of it when empty: a range on an empty object is a 416). */
async function proveS3Read(
  s3: S3Client,
  bucket: string,
  object: S3ListedObject,
  signal: AbortSignal,
): Promise<void> {
  const response = await s3
    .send(
      new GetObjectCommand({
        Bucket: bucket,
        Key: object.key,
        Range: object.size > 0 ? "bytes=0-0" : undefined,
      }),
      { abortSignal: signal },
    )
    .catch((error: unknown) => {
      throw s3SourceError(error, { bucket, key: object.key });
    });
  await response.Body?.transformToByteArray();
}

async function inspectHttps(
  url: string,
  deps: InspectDatasetDeps,
  policy: DatasetPolicy,
  signal: AbortSignal,
): Promise<DatasetInspection> {
  const https = deps.https ?? {};
  let { response } = await requestFollowingRedirects(url, { method: "HEAD" }, https, signal);
  response.resume();
  if (response.statusCode === 405 || response.statusCode === 501) {
    // No HEAD here: ask for one byte; the total size comes back in Content-Range.
    ({ response } = await requestFollowingRedirects(
      url,
      { method: "GET", headers: { range: "bytes=0-0" } },
      https,
      signal,
    ));
    // A server that ignores the range starts sending the whole archive: hang up at once.
    response.destroy();
  }
  const status = response.statusCode ?? 0;
  const where = redactQuery(url);
  if (status === 416 && response.headers["content-range"] === "bytes */0") {
    throw new DatasetRejectedError(`the dataset archive at ${where} is empty`);
  }
  if (status < 200 || status >= 300) {
    const error = httpStatusError(`the dataset URL answered HTTP ${status}`, response, url);
    throw error.permanent ? new DatasetRejectedError(error.message) : error;
  }
  const type = response.headers["content-type"] ?? "";
  if (/^\s*text\/html\b/i.test(type)) {
    throw new DatasetRejectedError(
      `the dataset URL ${where} serves a web page (${type.split(";")[0]?.trim()}), not a .tar or .tar.gz archive`,
    );
  }
  const archiveBytes =
    status === 206
      ? totalOfContentRange(response.headers["content-range"])
      : byteCount(response.headers["content-length"]);
  if (archiveBytes === 0) throw new DatasetRejectedError(`the dataset archive at ${where} is empty`);
  if (archiveBytes !== null && archiveBytes > policy.limits.maxBytes) {
    throw new DatasetRejectedError(
      `the dataset archive at ${where} is ${formatBytes(archiveBytes)}, over the ${formatBytes(policy.limits.maxBytes)} size limit`,
    );
  }
  return { kind: "https", files: null, bytes: null, archiveBytes };
}

function byteCount(header: string | undefined): number | null {
  if (header === undefined || !/^\d{1,16}$/.test(header.trim())) return null;
  return Number(header.trim());
}

/** `bytes 0-0/12345` → 12345; `bytes 0-0/*` (total unknown) → null. */
function totalOfContentRange(header: string | undefined): number | null {
  const total = /^bytes\s+\d+-\d+\/(\d{1,16})$/.exec(header?.trim() ?? "")?.[1];
  return total === undefined ? null : Number(total);
}
