import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DatasetEntry,
  localDatasetReader,
  MANIFEST_NAME,
  packDataset,
  UnsafeDatasetEntryError,
} from "../../src/dataset";
import { hashTree, writeDataset } from "./fixtures";

async function readTar(stream: Readable): Promise<{ name: string; data: Buffer }[]> {
  const extract = tar.extract();
  const feeding = pipeline(stream, extract as unknown as NodeJS.WritableStream);
  const out: { name: string; data: Buffer }[] = [];
  const reading = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      out.push({ name: entry.header.name, data: Buffer.concat(chunks) });
    }
  })();
  await Promise.all([feeding, reading]);
  return out;
}

const entriesOf = (items: { path: string; data: Buffer; size?: number }[]): AsyncIterable<DatasetEntry> =>
  (async function* () {
    for (const item of items) {
      yield {
        path: item.path,
        size: item.size ?? item.data.length,
        kind: "file" as const,
        open: () => Readable.from([item.data]),
      };
    }
  })();

describe("packDataset", () => {
  let dir: string;
  let expected: string[];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pack-test-"));
    expected = await writeDataset(dir, { pairs: 40, seed: 1 });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("emits images and captions, skips the rest, and appends a correct manifest last", async () => {
    const progress: number[] = [];
    const packed = packDataset(localDatasetReader(dir).entries(), {
      onProgress: (p) => progress.push(p.files),
      progressIntervalMs: 0,
    });
    const [entries, summary] = await Promise.all([readTar(packed.stream), packed.summary]);
    expect(entries.at(-1)?.name).toBe(MANIFEST_NAME);
    expect(
      entries
        .slice(0, -1)
        .map((e) => e.name)
        .sort(),
    ).toEqual(expected);
    expect(summary).toMatchObject({ files: 80, images: 40, captions: 40, skipped: 2 });
    const hashes = await hashTree(dir);
    const manifest = entries.at(-1)!.data.toString();
    expect(manifest).toBe(summary.manifest);
    for (const line of manifest.trimEnd().split("\n")) {
      const [hash, name] = line.split("  ") as [string, string];
      expect(hashes.get(name)).toBe(hash);
    }
    expect(summary.manifestSha256).toBe(createHash("sha256").update(manifest).digest("hex"));
    expect(progress.at(-1)).toBe(80);
  });

  it("fails on a hostile name and never emits the manifest", async () => {
    const packed = packDataset(
      entriesOf([
        { path: "ok.jpg", data: Buffer.from("x") },
        { path: "../evil.jpg", data: Buffer.from("y") },
      ]),
    );
    await expect(packed.summary).rejects.toBeInstanceOf(UnsafeDatasetEntryError);
    await expect(readTar(packed.stream)).rejects.toThrow();
  });

  it("refuses duplicate names and files whose size changes while read", async () => {
    const dup = packDataset(
      entriesOf([
        { path: "a.jpg", data: Buffer.from("x") },
        { path: "./a.jpg", data: Buffer.from("x") },
      ]),
    );
    dup.stream.on("error", () => {}).resume();
    await expect(dup.summary).rejects.toThrow(/twice/);
    const grown = packDataset(entriesOf([{ path: "a.jpg", data: Buffer.from("xyz"), size: 2 }]));
    grown.stream.on("error", () => {}).resume();
    await expect(grown.summary).rejects.toThrow(/size changed/);
  });
});
