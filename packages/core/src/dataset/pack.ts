/**
 * Packs a dataset into one tar stream on the fly: entries one at a time, each hashed as it
 * passes, then `MANIFEST.sha256` (sha256sum -c format) as the last entry. Because the manifest
 * comes last, a stream cut anywhere lacks it and can never verify. Memory stays bounded by the
 * stream buffers whatever the dataset size (the manifest text grows with the file count only).
 *
 * Files the instance already has (`present`: same size and sha256, left by an interrupted push)
 * are hashed but not sent; the manifest still lists them, so the instance verifies the whole set.
 *
 * Built for throughput: headers and small files are copied once, into 256 KiB output chunks
 * (one SSH write of many packets instead of one per tar fragment), and chunks of large files pass
 * through without a copy.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { type Clock, systemClock } from "../clock";
import type { DatasetEntry } from "./entries";
import { checkEntryName, classifyEntry, MANIFEST_NAME, UnsafeDatasetEntryError } from "./entry-name";
import { END_OF_ARCHIVE, fileHeader, padding } from "./tar-header";

export interface PushProgress {
  /** File bytes sent so far (payload, not tar headers). */
  bytes: number;
  files: number;
  bytesPerSecond: number;
}

/** A file the instance already holds, as it reported it before the push. */
export interface PresentFile {
  size: number;
  sha256: string;
}

export interface PackSummary {
  /** Files in the dataset (the manifest's lines), sent or already present. */
  files: number;
  images: number;
  captions: number;
  /** Entries left out: not an image or caption, hidden, or not a regular file. */
  skipped: number;
  /** File bytes sent (files already on the instance not included). */
  bytes: number;
  /** Files the instance already had with the same size and hash, and their bytes: not sent. */
  reused: { files: number; bytes: number };
  manifest: string;
  /** sha256 of the manifest text: one value that identifies the whole dataset content. */
  manifestSha256: string;
}

export interface PackOptions {
  clock?: Clock;
  onProgress?: (progress: PushProgress) => void;
  /** Minimum interval between progress callbacks (the final one always fires). */
  progressIntervalMs?: number;
  /** What the instance already has, by entry name; awaited before the first entry is packed. */
  present?: Promise<ReadonlyMap<string, PresentFile>>;
}

export interface PackedDataset {
  stream: Readable;
  /**
   * Hands back a chunk read from `stream` once it has been consumed (its bytes copied or written):
   * its memory is reused for a later chunk. Optional; chunks never released are simply collected.
   */
  release(chunk: Buffer): void;
  /** Resolves once the manifest is written; rejects with the first source or name error. */
  summary: Promise<PackSummary>;
}

/** Output chunk size: large enough that per-write costs vanish, small enough to keep memory flat. */
const CHUNK_BYTES = 256 * 1024;
/**
 * Source chunks at least this large go out as they are; smaller ones (a typical image, a caption,
 * every header) are copied into the current chunk, so the SSH channel sees full 32 KiB packets
 * rather than a short packet for each header.
 */
const PASS_THROUGH_BYTES = CHUNK_BYTES;

export function packDataset(entries: AsyncIterable<DatasetEntry>, options: PackOptions = {}): PackedDataset {
  let settle!: { resolve: (summary: PackSummary) => void; reject: (error: unknown) => void };
  const summary = new Promise<PackSummary>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // Failures also surface through the returned stream; the promise must not raise them unhandled.
  summary.catch(() => {});
  const out = new ChunkWriter();
  const generator = generate(entries, options, settle, out);
  const stream = Readable.from(generator, { objectMode: false, highWaterMark: 4 * CHUNK_BYTES });
  // Start packing now (up to the high-water mark), as a consumer would: a bad entry early in the
  // dataset then fails the summary even before anyone reads the stream.
  stream.read(0);
  return { stream, summary, release: (chunk) => out.release(chunk) };
}

/**
 * Gathers writes into CHUNK_BYTES buffers and returns the chunks ready to go out. The buffers come
 * from a small free list that the consumer refills (`release`) once a chunk has been written: a
 * push then reuses a few MiB instead of allocating one buffer per chunk, and the garbage collector
 * (which Node runs about every 64 MiB of buffer memory) has far less to do.
 */
class ChunkWriter {
  readonly #free: Buffer[] = [];
  readonly #ours = new WeakSet<ArrayBufferLike>();
  #buffer = this.#take();
  #length = 0;

  write(data: Buffer): Buffer[] {
    if (data.length >= PASS_THROUGH_BYTES) return [...this.flush(), data];
    const out: Buffer[] = [];
    let offset = 0;
    while (offset < data.length) {
      const n = Math.min(data.length - offset, CHUNK_BYTES - this.#length);
      data.copy(this.#buffer, this.#length, offset, offset + n);
      this.#length += n;
      offset += n;
      if (this.#length === CHUNK_BYTES) out.push(...this.flush());
    }
    return out;
  }

  /** The free part of the current chunk, to read into directly; then `commit` what was written. */
  space(): Buffer {
    return this.#buffer.subarray(this.#length);
  }

  commit(bytes: number): Buffer[] {
    this.#length += bytes;
    return this.#length === CHUNK_BYTES ? this.flush() : [];
  }

  zeros(count: number): Buffer[] {
    return count === 0 ? [] : this.write(Buffer.alloc(count));
  }

  flush(): Buffer[] {
    if (this.#length === 0) return [];
    const chunk = this.#buffer.subarray(0, this.#length);
    // The consumer may keep the chunk queued: its memory is reused only once it is released.
    this.#buffer = this.#take();
    this.#length = 0;
    return [chunk];
  }

  /** A chunk this writer produced has been consumed (its bytes copied): its buffer may be reused. */
  release(chunk: Buffer): void {
    if (!this.#ours.has(chunk.buffer) || this.#free.length >= MAX_FREE_CHUNKS) return;
    this.#free.push(Buffer.from(chunk.buffer, 0, CHUNK_BYTES));
  }

  #take(): Buffer {
    const reused = this.#free.pop();
    if (reused) return reused;
    const buffer = Buffer.allocUnsafeSlow(CHUNK_BYTES);
    this.#ours.add(buffer.buffer);
    return buffer;
  }
}

/** Chunks kept for reuse: the stream's high-water mark plus what the SSH channel holds. */
const MAX_FREE_CHUNKS = 32;

async function* generate(
  entries: AsyncIterable<DatasetEntry>,
  options: PackOptions,
  settle: { resolve: (summary: PackSummary) => void; reject: (error: unknown) => void },
  out: ChunkWriter,
): AsyncGenerator<Buffer> {
  let done = false;
  try {
    yield* fill(entries, options, out, (summary) => {
      done = true;
      settle.resolve(summary);
    });
  } catch (error) {
    settle.reject(error);
    throw error;
  } finally {
    // The consumer stopped reading (a failed remote side): the summary will never come.
    if (!done) settle.reject(new Error("the dataset stream was closed before its manifest"));
  }
}

async function* fill(
  entries: AsyncIterable<DatasetEntry>,
  options: PackOptions,
  out: ChunkWriter,
  finished: (summary: PackSummary) => void,
): AsyncGenerator<Buffer> {
  const clock = options.clock ?? systemClock;
  const started = clock.now();
  const mtime = Math.floor(started / 1000);
  const seen = new Set<string>();
  const lines: string[] = [];
  const counts = { images: 0, captions: 0, skipped: 0, bytes: 0 };
  const reused = { files: 0, bytes: 0 };
  // Small local files are read into this one buffer (see DatasetEntry.readSync), then copied out.
  const scratch = Buffer.allocUnsafe(SMALL_FILE_BYTES + 1);
  let lastReport = -Infinity;
  const report = (force: boolean) => {
    const now = clock.now();
    if (!options.onProgress || (!force && now - lastReport < (options.progressIntervalMs ?? 200))) return;
    lastReport = now;
    const seconds = Math.max(0.001, (now - started) / 1000);
    options.onProgress({ bytes: counts.bytes, files: lines.length, bytesPerSecond: counts.bytes / seconds });
  };

  const planned = lookahead(entries);
  try {
    yield* packEntries();
  } finally {
    await planned.return(undefined);
  }

  async function* packEntries(): AsyncGenerator<Buffer> {
    // Start reading ahead while the instance lists what it has.
    const first = planned.next();
    first.catch(() => {});
    const present = (await options.present) ?? new Map<string, PresentFile>();
    for (let next = await first; !next.done; next = await planned.next()) {
      const item = next.value;
      if (item.kind === "skip") {
        counts.skipped++;
        continue;
      }
      const { entry, name } = item;
      if (seen.has(name)) throw new UnsafeDatasetEntryError(entry.path, "appears twice in the dataset");
      seen.add(name);
      const count = () => {
        if (item.kind === "image") counts.images++;
        else counts.captions++;
      };

      const known = present.get(name);
      let data = item.sync
        ? checkSize(entry, item.sync(scratch))
        : item.data
          ? checkSize(entry, await item.data)
          : undefined;
      if (known && known.size === entry.size && (data || entry.repeatable)) {
        const sha256 = data ? createHash("sha256").update(data).digest("hex") : await hashEntry(entry);
        if (sha256 === known.sha256) {
          lines.push(`${sha256}  ${name}\n`);
          reused.files++;
          reused.bytes += entry.size;
          count();
          report(false);
          continue;
        }
      }

      const hash = createHash("sha256");
      yield* out.write(fileHeader(name, entry.size, mtime));
      if (data) {
        hash.update(data);
        counts.bytes += data.length;
        yield* out.write(data);
        data = undefined;
      } else if (entry.readAt) {
        // Local files: read straight into the output chunks, no buffer of their own.
        let position = 0;
        while (position < entry.size) {
          const target = out.space();
          const n = entry.readAt(
            target.subarray(0, Math.min(target.length, entry.size - position)),
            position,
          );
          if (n === 0) throw sizeChanged(entry, position);
          hash.update(target.subarray(0, n));
          position += n;
          counts.bytes += n;
          yield* out.commit(n);
          report(false);
        }
        if (entry.readAt(scratch.subarray(0, 1), position) !== 0) throw sizeChanged(entry, position + 1);
      } else {
        let written = 0;
        for await (const chunk of await entry.open()) {
          const buffer = Buffer.isBuffer(chunk)
            ? chunk
            : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
          written += buffer.length;
          if (written > entry.size) break;
          hash.update(buffer);
          counts.bytes += buffer.length;
          yield* out.write(buffer);
          report(false);
        }
        if (written !== entry.size) throw sizeChanged(entry, written);
      }
      yield* out.zeros(padding(entry.size));
      lines.push(`${hash.digest("hex")}  ${name}\n`);
      count();
      report(false);
    }
  }

  const manifest = lines.join("");
  const manifestBytes = Buffer.from(manifest, "utf8");
  yield* out.write(fileHeader(MANIFEST_NAME, manifestBytes.length, mtime));
  yield* out.write(manifestBytes);
  yield* out.zeros(padding(manifestBytes.length));
  yield* out.write(END_OF_ARCHIVE);
  yield* out.flush();
  report(true);
  finished({
    files: lines.length,
    ...counts,
    reused,
    manifest,
    manifestSha256: createHash("sha256").update(manifest).digest("hex"),
  });
}

function sizeChanged(entry: DatasetEntry, actual: number): UnsafeDatasetEntryError {
  return new UnsafeDatasetEntryError(entry.path, `size changed while reading (${entry.size} → ${actual})`);
}

function checkSize(entry: DatasetEntry, data: Buffer): Buffer {
  if (data.length !== entry.size) throw sizeChanged(entry, data.length);
  return data;
}

/** sha256 of a large entry read once just to compare it (only repeatable sources are opened twice). */
async function hashEntry(entry: DatasetEntry): Promise<string> {
  const hash = createHash("sha256");
  let total = 0;
  for await (const chunk of await entry.open()) {
    total += chunk.length;
    if (total > entry.size) break;
    hash.update(chunk);
  }
  if (total !== entry.size) throw sizeChanged(entry, total);
  return hash.digest("hex");
}

/** Files up to this size are read ahead whole; larger ones stream when their turn comes. */
const SMALL_FILE_BYTES = 1024 * 1024;
/** How many small files may be in flight ahead of the one being packed (bounds memory to ~8 MiB). */
const LOOKAHEAD = 8;

type Planned =
  | { kind: "skip" }
  | {
      kind: "image" | "caption";
      name: string;
      entry: DatasetEntry;
      data?: Promise<Buffer>;
      /** Read when packed, not ahead: synchronous reads need no overlap. */
      sync?: (scratch: Buffer) => Buffer;
    };

/**
 * Names are checked and entries classified here; small kept files are read ahead so per-file
 * latency (an S3 GET, a file open) overlaps with packing. Reading never runs ahead of a large
 * entry: sequential sources (an archive being extracted) can only serve one entry at a time.
 */
async function* lookahead(entries: AsyncIterable<DatasetEntry>): AsyncGenerator<Planned> {
  const iterator = entries[Symbol.asyncIterator]();
  const queue: Planned[] = [];
  let exhausted = false;
  const blocked = () => {
    const last = queue.at(-1);
    return last !== undefined && last.kind !== "skip" && last.data === undefined && last.sync === undefined;
  };
  const fill = async () => {
    while (!exhausted && queue.length < LOOKAHEAD && !blocked()) {
      const next = await iterator.next();
      if (next.done) {
        exhausted = true;
        return;
      }
      const entry = next.value;
      const name = checkEntryName(entry.path);
      const kind = entry.kind === "file" ? classifyEntry(name) : "skip";
      if (kind === "skip") {
        queue.push({ kind });
        continue;
      }
      let data: Promise<Buffer> | undefined;
      let sync: ((scratch: Buffer) => Buffer) | undefined;
      if (entry.size <= SMALL_FILE_BYTES && entry.readSync) {
        sync = entry.readSync.bind(entry);
      } else if (entry.size <= SMALL_FILE_BYTES) {
        data = collect(entry);
        data.catch(() => {});
      }
      queue.push({ kind, name, entry, data, sync });
    }
  };
  try {
    for (;;) {
      await fill();
      const item = queue.shift();
      if (!item) return;
      yield item;
    }
  } finally {
    await iterator.return?.();
  }
}

async function collect(entry: DatasetEntry): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of await entry.open()) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    total += buffer.length;
    // Keep one byte past the declared size so the size check still sees the growth.
    if (total > entry.size + 1) break;
    chunks.push(buffer);
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}
