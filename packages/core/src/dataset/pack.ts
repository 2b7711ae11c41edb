/**
 * Packs a dataset into one tar stream on the fly: entries one at a time, each hashed as it
 * passes, then `MANIFEST.sha256` (sha256sum -c format) as the last entry. Because the manifest
 * comes last, a stream cut anywhere lacks it and can never verify. Memory stays bounded by the
 * stream buffers whatever the dataset size (the manifest text grows with the file count only).
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { Readable } from "node:stream";
import tar from "tar-stream";
import { type Clock, systemClock } from "../clock";
import type { DatasetEntry } from "./entries";
import { checkEntryName, classifyEntry, MANIFEST_NAME, UnsafeDatasetEntryError } from "./entry-name";

export interface PushProgress {
  /** File bytes sent so far (payload, not tar headers). */
  bytes: number;
  files: number;
  bytesPerSecond: number;
}

export interface PackSummary {
  files: number;
  images: number;
  captions: number;
  /** Entries left out: not an image or caption, hidden, or not a regular file. */
  skipped: number;
  bytes: number;
  manifest: string;
  /** sha256 of the manifest text: one value that identifies the whole dataset content. */
  manifestSha256: string;
}

export interface PackOptions {
  clock?: Clock;
  onProgress?: (progress: PushProgress) => void;
  /** Minimum interval between progress callbacks (the final one always fires). */
  progressIntervalMs?: number;
}

export interface PackedDataset {
  stream: Readable;
  /** Resolves once the manifest is written; rejects with the first source or name error. */
  summary: Promise<PackSummary>;
}

export function packDataset(entries: AsyncIterable<DatasetEntry>, options: PackOptions = {}): PackedDataset {
  const clock = options.clock ?? systemClock;
  const pack = tar.pack();
  // Failures surface through `summary` and the returned stream; the raw pack must not also
  // raise them as an unhandled 'error' event.
  pack.on("error", () => {});
  const summary = fill(pack, entries, clock, options);
  summary.catch((error: unknown) => pack.destroy(error instanceof Error ? error : new Error(String(error))));
  return { stream: Readable.from(pack), summary };
}

async function fill(
  pack: tar.Pack,
  entries: AsyncIterable<DatasetEntry>,
  clock: Clock,
  options: PackOptions,
): Promise<PackSummary> {
  const started = clock.now();
  const mtime = new Date(started);
  const seen = new Set<string>();
  const lines: string[] = [];
  const counts = { images: 0, captions: 0, skipped: 0, bytes: 0 };
  let lastReport = -Infinity;
  const report = (force: boolean) => {
    const now = clock.now();
    if (!options.onProgress || (!force && now - lastReport < (options.progressIntervalMs ?? 200))) return;
    lastReport = now;
    const seconds = Math.max(0.001, (now - started) / 1000);
    options.onProgress({ bytes: counts.bytes, files: lines.length, bytesPerSecond: counts.bytes / seconds });
  };

  for await (const item of lookahead(entries)) {
    if (item.kind === "skip") {
      counts.skipped++;
      continue;
    }
    const { entry, name } = item;
    if (seen.has(name)) throw new UnsafeDatasetEntryError(entry.path, "appears twice in the dataset");
    seen.add(name);
    const hash = createHash("sha256");
    const sink = pack.entry({ name, size: entry.size, mode: 0o644, mtime, type: "file" });
    const done = new Promise<void>((resolve, reject) => {
      sink.once("error", reject);
      sink.once("finish", () => resolve());
      sink.once("close", () => resolve());
    });
    // Awaited below on success; on a failed read the whole pack is destroyed instead.
    done.catch(() => {});
    let written = 0;
    const chunks = item.data ? [await item.data] : await entry.open();
    for await (const chunk of chunks) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      written += buffer.length;
      if (written > entry.size) break;
      hash.update(buffer);
      counts.bytes += buffer.length;
      if (!sink.write(buffer)) await once(sink, "drain");
      report(false);
    }
    if (written !== entry.size) {
      throw new UnsafeDatasetEntryError(
        entry.path,
        `size changed while reading (${entry.size} → ${written})`,
      );
    }
    (sink as NodeJS.WritableStream).end();
    await done;
    lines.push(`${hash.digest("hex")}  ${name}\n`);
    if (item.kind === "image") counts.images++;
    else counts.captions++;
  }

  const manifest = lines.join("");
  pack.entry({ name: MANIFEST_NAME, mode: 0o644, mtime }, manifest);
  pack.finalize();
  report(true);
  return {
    files: lines.length,
    ...counts,
    manifest,
    manifestSha256: createHash("sha256").update(manifest).digest("hex"),
  };
}

/** Files up to this size are read ahead whole; larger ones stream when their turn comes. */
const SMALL_FILE_BYTES = 1024 * 1024;
/** How many small files may be in flight ahead of the one being packed (bounds memory to ~8 MiB). */
const LOOKAHEAD = 8;

type Planned =
  | { kind: "skip" }
  | { kind: "image" | "caption"; name: string; entry: DatasetEntry; data?: Promise<Buffer> };

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
    return last !== undefined && last.kind !== "skip" && last.data === undefined;
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
      if (entry.size <= SMALL_FILE_BYTES) {
        data = collect(entry);
        data.catch(() => {});
      }
      queue.push({ kind, name, entry, data });
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
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    total += buffer.length;
    // Keep one byte past the declared size so the size check below still sees the growth.
    if (total > entry.size + 1) break;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}
