import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
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

const entriesOf = (
  items: { path: string; data: Buffer; size?: number }[],
  options: { repeatable?: boolean; opened?: string[] } = {},
): AsyncIterable<DatasetEntry> =>
  (async function* () {
    for (const item of items) {
      yield {
        path: item.path,
        size: item.size ?? item.data.length,
        kind: "file" as const,
        repeatable: options.repeatable,
        open: () => {
          options.opened?.push(item.path);
          return Readable.from([item.data]);
        },
      };
    }
  })();

const run = promisify(execFile);
const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

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

  it("leaves out files the instance already has with the same size and hash, and still lists them", async () => {
    const a = Buffer.from("aaaa");
    const b = Buffer.from("bbbb");
    const c = Buffer.from("cccc");
    // Past the read-ahead size: hashed by a first read, then (when different) read again to send.
    const big = Buffer.alloc(2 * 1024 * 1024, 7);
    const big2 = Buffer.alloc(2 * 1024 * 1024, 8);
    const present = new Map([
      ["a.jpg", { size: 4, sha256: sha256(a) }],
      ["b.jpg", { size: 4, sha256: sha256(Buffer.from("BBBB")) }],
      ["c.jpg", { size: 3, sha256: sha256(c) }],
      ["big.png", { size: big.length, sha256: sha256(big) }],
      ["big2.png", { size: big2.length, sha256: sha256(big) }],
    ]);
    const opened: string[] = [];
    const files = [
      { path: "a.jpg", data: a },
      { path: "b.jpg", data: b },
      { path: "c.jpg", data: c },
      { path: "big.png", data: big },
      { path: "big2.png", data: big2 },
    ];
    const packed = packDataset(entriesOf(files, { repeatable: true, opened }), {
      present: Promise.resolve(present),
    });
    const [entries, summary] = await Promise.all([readTar(packed.stream), packed.summary]);
    // Same size, other hash (b), other size (c), other content (big2): sent.
    expect(entries.map((e) => e.name)).toEqual(["b.jpg", "c.jpg", "big2.png", MANIFEST_NAME]);
    expect(entries[2]?.data.equals(big2)).toBe(true);
    expect(summary).toMatchObject({
      files: 5,
      images: 5,
      bytes: 8 + big2.length,
      reused: { files: 2, bytes: 4 + big.length },
    });
    expect(summary.manifest).toBe(files.map((f) => `${sha256(f.data)}  ${f.path}\n`).join(""));
    expect(opened.filter((p) => p === "big2.png")).toHaveLength(2);
  });

  it("sends a large file from a source that can be read only once, even when the instance may have it", async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 7);
    const packed = packDataset(entriesOf([{ path: "big.png", data: big }]), {
      present: Promise.resolve(new Map([["big.png", { size: big.length, sha256: sha256(big) }]])),
    });
    const [entries, summary] = await Promise.all([readTar(packed.stream), packed.summary]);
    expect(entries.map((e) => e.name)).toEqual(["big.png", MANIFEST_NAME]);
    expect(summary.reused).toEqual({ files: 0, bytes: 0 });
  });

  it("writes headers GNU tar reads: long names (pax), unusual characters, exact sizes", async () => {
    const long = `${"d".repeat(120)}/${"e".repeat(150)}/${"f".repeat(200)}.jpg`;
    const files = [
      { path: long, data: Buffer.from("long") },
      { path: `${"p".repeat(90)}/${"q".repeat(60)}.jpg`, data: Buffer.from("prefix split") },
      { path: "ünï cødé 'x' $(y).png", data: Buffer.alloc(70_000, 3) },
      { path: "empty.txt", data: Buffer.alloc(0) },
    ];
    const packed = packDataset(entriesOf(files));
    const out = await mkdtemp(join(tmpdir(), "pack-gnu-"));
    try {
      await pipeline(packed.stream, createWriteStream(join(out, "x.tar")));
      await run("tar", ["-x", "-f", join(out, "x.tar"), "-C", out]);
      for (const f of files) expect(sha256(await readFile(join(out, f.path))), f.path).toBe(sha256(f.data));
      expect((await packed.summary).files).toBe(4);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it("refuses a local file that grows or shrinks after it was listed", async () => {
    const folder = await mkdtemp(join(tmpdir(), "pack-grow-"));
    try {
      for (const [name, size] of [
        ["small.jpg", 1000],
        ["large.png", 2 * 1024 * 1024],
      ] as const) {
        await writeFile(join(folder, name), Buffer.alloc(size, 1));
        // Listed first, changed afterwards.
        const entries: DatasetEntry[] = [];
        for await (const entry of localDatasetReader(folder).entries())
          if (entry.path === name) entries.push(entry);
        for (const change of ["grow", "shrink"] as const) {
          await writeFile(join(folder, name), Buffer.alloc(change === "grow" ? size + 1 : size - 1, 1));
          const packed = packDataset(
            (async function* () {
              yield* entries;
            })(),
          );
          packed.stream.on("error", () => {}).resume();
          await expect(packed.summary, `${name} ${change}`).rejects.toThrow(/size changed/);
          await writeFile(join(folder, name), Buffer.alloc(size, 1));
        }
        await rm(join(folder, name));
      }
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
