/**
 * Pushes a dataset onto an instance: one tar stream, packed on the fly from the source, piped
 * into a remote `tar -x` confined to the job's dataset folder, verified there against the
 * manifest. Compression is off by default because jpg/png/webp are already compressed and gzip
 * would only cost CPU on both ends; `gzip` is for caption-heavy or uncompressed sets.
 */

import type { Readable, Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { createGzip } from "node:zlib";
import { type Clock, systemClock } from "../clock";
import { type Logger, silentLogger } from "../observability";
import type { ExecStream, SshSession } from "../ssh";
import { DEFAULT_WORKSPACE_ROOT, jobPaths } from "../training/paths";
import { type DatasetEntry, type DatasetReader, DatasetSourceError } from "./entries";
import { type PackSummary, type PresentFile, type PushProgress, packDataset } from "./pack";
import {
  clearPartialCommand,
  EXIT_MANIFEST_MISMATCH,
  EXIT_MANIFEST_MISSING,
  EXIT_NO_SPACE,
  readMarkerCommand,
  remoteExtractCommand,
} from "./remote-extract";

export type DatasetCompression = "none" | "gzip";

export interface PushDatasetOptions {
  jobId: string;
  workspaceRoot?: string;
  reader: DatasetReader;
  compression?: DatasetCompression;
  /**
   * The dataset's payload size in bytes when known beforehand (a listing source's inspection):
   * the instance then refuses up front, as `no_space`, a dataset its free disk cannot hold.
   */
  announcedBytes?: number;
  onProgress?: (progress: PushProgress) => void;
  clock?: Clock;
  logger?: Logger;
  signal?: AbortSignal;
}

export interface PushDatasetResult extends Omit<PackSummary, "manifest"> {
  datasetDir: string;
  durationMs: number;
}

/**
 * Why the instance did not end up with the dataset, from the remote script's exit code (never
 * from its error text):
 * - `no_space`: the dataset does not fit the instance's free disk space (announced size, or the
 *   disk filled up during extraction). Permanent: a retry on this instance fails the same way.
 * - `manifest_mismatch`: files on the instance differ from the bytes hashed while sending them.
 *   SSH's MAC rules out the wire and the packer hashes exactly what it sends, so no source can
 *   cause this: the host's disk or memory is corrupting data. Permanent (retry elsewhere).
 * - `hash_mismatch`: the push exited cleanly but the instance reports another manifest hash than
 *   the one sent: the same bad-host conclusion. Permanent.
 * - `manifest_missing`: the stream ended before its manifest (a cut connection; a failing source
 *   surfaces as its own error instead). Transient.
 * - `extract_failed`: anything else — `tar` failing on a truncated stream, the remote command
 *   killed (HUP when the connection drops), a folder that cannot be created. Transient.
 */
export type DatasetPushFailure =
  | "no_space"
  | "manifest_missing"
  | "manifest_mismatch"
  | "extract_failed"
  | "hash_mismatch";

const PERMANENT_PUSH_FAILURES: ReadonlySet<DatasetPushFailure> = new Set([
  "no_space",
  "manifest_mismatch",
  "hash_mismatch",
]);

/** The failure an exit code of the remote extract script stands for. */
export function pushFailureOfExitCode(exitCode: number | null): DatasetPushFailure {
  switch (exitCode) {
    case EXIT_NO_SPACE:
      return "no_space";
    case EXIT_MANIFEST_MISSING:
      return "manifest_missing";
    case EXIT_MANIFEST_MISMATCH:
      return "manifest_mismatch";
    default:
      return "extract_failed";
  }
}

/** The remote side refused or failed the push (disk space, extraction, verification, hash mismatch). */
export class DatasetPushError extends Error {
  override readonly name = "DatasetPushError";
  /** True when pushing this dataset to this instance again cannot succeed: fail the attempt now. */
  readonly permanent: boolean;
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderrTail: string,
    readonly reason: DatasetPushFailure,
  ) {
    super(message);
    this.permanent = PERMANENT_PUSH_FAILURES.has(reason);
  }
}

export async function pushDataset(
  session: SshSession,
  options: PushDatasetOptions,
): Promise<PushDatasetResult> {
  const logger = options.logger ?? silentLogger;
  const { datasetDir } = jobPaths(options.jobId, options.workspaceRoot ?? DEFAULT_WORKSPACE_ROOT);
  const compression = options.compression ?? "none";
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  const { announcedBytes } = options;
  if (announcedBytes !== undefined && !(Number.isSafeInteger(announcedBytes) && announcedBytes >= 0)) {
    throw new RangeError(`announcedBytes must be a non-negative integer, got ${announcedBytes}`);
  }

  // Listing sources check every name while producing their first entry: pull it before
  // starting anything remote, so a hostile name fails with nothing sent.
  const entries = await primed(options.reader.entries(options.signal));
  const listing = new RemoteListing();
  const packed = packDataset(entries, { clock, onProgress: options.onProgress, present: listing.present });
  const source: Readable =
    compression === "gzip" ? packed.stream.pipe(createGzip({ level: 6 })) : packed.stream;

  let sourceError: unknown;
  let remote: ExecStream | undefined;
  const onSourceError = (error: unknown) => {
    sourceError ??= error;
    if (!remote) return;
    source.unpipe(remote.stdin);
    // EOF without the manifest: the remote side fails verification and keeps what arrived for a
    // retry; waiting for its exit (rather than killing it) means nothing is left half-renamed.
    remote.stdin.end();
  };
  // Listen before the first await: small entries may be packed (and fail) before the remote starts.
  packed.stream.on("error", onSourceError);
  source.on("error", onSourceError);
  packed.summary.catch(onSourceError);

  remote = await session.execStream(remoteExtractCommand(datasetDir, compression, announcedBytes), {
    signal: options.signal,
    maxCaptureBytes: 64 * 1024,
    onStdout: listing.onStdout,
  });
  // Without a `ready` line (the script failed before listing), the packer must not wait forever.
  remote.result.then(listing.end, listing.end);
  if (sourceError !== undefined) remote.stdin.end();
  else {
    if (compression === "none") releaseAfterWrite(remote.stdin, packed.release);
    source.pipe(remote.stdin);
  }

  const running = remote;
  const result = await running.result.catch((error: unknown) => {
    source.unpipe(running.stdin);
    packed.stream.destroy();
    throw error;
  });
  if (sourceError !== undefined) {
    // A source that may work next time (a 5xx, a timeout) leaves the partial folder for the retry
    // to resume from; a refused dataset (a hostile name, a policy limit) leaves nothing behind.
    if (!(sourceError instanceof DatasetSourceError && !sourceError.permanent)) {
      await session.exec(clearPartialCommand(datasetDir)).catch(() => {});
    }
    throw sourceError;
  }
  const stderrTail = result.stderr.slice(-2000);
  if (result.exitCode !== 0) {
    // The remote side may have quit before reading everything (no space): stop packing rather
    // than wait for a summary that a stalled stream would never deliver.
    source.unpipe(running.stdin);
    packed.stream.destroy();
    throw new DatasetPushError(
      `dataset push to ${datasetDir} failed (exit ${result.exitCode ?? result.signal}): ${stderrTail.trim()}`,
      result.exitCode,
      stderrTail,
      pushFailureOfExitCode(result.exitCode),
    );
  }
  const summary = await packed.summary;
  const remoteHash = listing.lastLine;
  if (remoteHash !== summary.manifestSha256) {
    throw new DatasetPushError(
      `dataset manifest hash mismatch: sent ${summary.manifestSha256}, instance has ${remoteHash}`,
      result.exitCode,
      stderrTail,
      "hash_mismatch",
    );
  }
  const { manifest: _manifest, ...rest } = summary;
  const durationMs = clock.now() - started;
  logger.info("dataset pushed", {
    datasetDir,
    files: rest.files,
    bytes: rest.bytes,
    skipped: rest.skipped,
    reusedFiles: rest.reused.files,
    reusedBytes: rest.reused.bytes,
    durationMs,
  });
  return { ...rest, datasetDir, durationMs };
}

/**
 * True when `datasetDir` holds a verified dataset — with `manifestSha256` given, that exact one.
 * The marker is written only after verification and the folder appears atomically, so its
 * presence is proof the whole dataset is there.
 */
export async function isDatasetPresent(
  session: SshSession,
  datasetDir: string,
  manifestSha256?: string,
): Promise<boolean> {
  const marker = await readDatasetMarker(session, datasetDir);
  return marker !== null && (manifestSha256 === undefined || marker === manifestSha256);
}

/** The verified manifest hash recorded on the instance, or null when no complete dataset is there. */
export async function readDatasetMarker(session: SshSession, datasetDir: string): Promise<string | null> {
  const result = await session.exec(readMarkerCommand(datasetDir));
  const hash = result.stdout.trim();
  return /^[0-9a-f]{64}$/.test(hash) ? hash : null;
}

async function primed(iterable: AsyncIterable<DatasetEntry>): Promise<AsyncIterable<DatasetEntry>> {
  const iterator = iterable[Symbol.asyncIterator]();
  const first = await iterator.next();
  return {
    async *[Symbol.asyncIterator]() {
      try {
        if (first.done) return;
        yield first.value;
        for (;;) {
          const next = await iterator.next();
          if (next.done) return;
          yield next.value;
        }
      } finally {
        await iterator.return?.();
      }
    },
  };
}

/**
 * Reads the extract script's stdout as it arrives: the `present <sha256> <size> <name>` lines and
 * `ready` that come before the stream is read, and the last line (the verified manifest hash).
 */
class RemoteListing {
  readonly #files = new Map<string, PresentFile>();
  #resolve!: (files: ReadonlyMap<string, PresentFile>) => void;
  readonly present = new Promise<ReadonlyMap<string, PresentFile>>((resolve) => {
    this.#resolve = resolve;
  });
  #ready = false;
  #partial = "";
  // Names are UTF-8; a chunk may end inside a character.
  readonly #decoder = new StringDecoder("utf8");
  lastLine = "";

  readonly onStdout = (chunk: Buffer): void => {
    const text = this.#partial + this.#decoder.write(chunk);
    const lines = text.split("\n");
    this.#partial = lines.pop() ?? "";
    for (const line of lines) this.#line(line);
  };

  readonly end = (): void => {
    if (this.#partial) this.#line(this.#partial);
    this.#partial = "";
    this.#ready = true;
    this.#resolve(this.#files);
  };

  #line(line: string): void {
    if (this.#ready) {
      if (line.trim()) this.lastLine = line.trim();
      return;
    }
    if (line === "ready") {
      this.#ready = true;
      this.#resolve(this.#files);
      return;
    }
    const match = /^present ([0-9a-f]{64}) (\d+) (.+)$/.exec(line);
    if (match) this.#files.set(match[3] as string, { sha256: match[1] as string, size: Number(match[2]) });
  }
}

/**
 * Calls `release` with each chunk written to `target` once the target is done with it (its write
 * callback: ssh2 has copied the bytes into its packets), so the packer can reuse the memory.
 */
function releaseAfterWrite(target: Writable, release: (chunk: Buffer) => void): void {
  const write = target.write;
  target.write = function (this: Writable, chunk: unknown, ...rest: unknown[]) {
    const callback = rest.find((arg) => typeof arg === "function") as
      | ((error?: Error | null) => void)
      | undefined;
    const encoding = typeof rest[0] === "string" ? (rest[0] as BufferEncoding) : undefined;
    return write.call(this, chunk, encoding as BufferEncoding, (error?: Error | null) => {
      if (!error && Buffer.isBuffer(chunk)) release(chunk);
      callback?.(error);
    });
  } as Writable["write"];
}
