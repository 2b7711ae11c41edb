/**
 * The packer's view of a dataset source: a sequence of files, each opened only when its turn
 * comes, so at most one file is in flight and nothing is buffered whole.
 */
export interface DatasetEntry {
  /** Path relative to the dataset root, `/`-separated, as found in the source (checked later). */
  path: string;
  /** Exact byte size: tar headers need it before the data. */
  size: number;
  /** `other` for symlinks, devices and the like: counted as skipped, never opened. */
  kind: "file" | "other";
  /**
   * True when `open()` may be called more than once (listing sources: a folder, S3). A large file
   * the instance may already have is then read once to compare hashes and again to send it.
   */
  repeatable?: boolean;
  /**
   * Local files only: the whole file read synchronously into `scratch` (at least the listed size
   * plus one byte), returning the bytes read — a view of `scratch`, valid until the next call. For
   * the many small files of a dataset this beats thread-pool reads, which cost an event-loop round
   * trip for each open, read and close.
   */
  readSync?(scratch: Buffer): Buffer;
  /**
   * Local files only: reads up to `target.length` bytes at `position` synchronously, returning how
   * many (0 at the end): large files are read straight into the packer's output chunks.
   */
  readAt?(target: Buffer, position: number): number;
  /** The file's bytes; a Node Readable or any async iterable of chunks. */
  open(): AsyncIterable<Uint8Array> | Promise<AsyncIterable<Uint8Array>>;
}

export interface DatasetReader {
  /**
   * Listing sources (S3, local) list and name-check everything before yielding the first entry,
   * so a hostile name fails the push before anything is sent.
   */
  entries(signal?: AbortSignal): AsyncIterable<DatasetEntry>;
}

/**
 * A source could not be read (HTTP status, missing folder, unsupported archive, S3 refusal).
 * `permanent` says whether trying again can help: a 404, an access denial or a zip archive stay
 * that way (fail the attempt at once); a 5xx, a timeout or a dropped connection may not (retry).
 */
export class DatasetSourceError extends Error {
  override readonly name = "DatasetSourceError";
  readonly permanent: boolean;

  constructor(message: string, options: { permanent?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.permanent = options.permanent ?? false;
  }
}
