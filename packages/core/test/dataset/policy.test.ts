import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkDatasetListing,
  checkedDatasetReader,
  classifyEntry,
  type DatasetEntry,
  type DatasetPolicy,
  type DatasetReader,
  DatasetRejectedError,
  httpsArchiveReader,
  isListingSource,
  packDataset,
  UnsafeDatasetEntryError,
} from "../../src/dataset";
import { startHttpsServer, type TestHttpsServer } from "./https-server";

const policy = (overrides: Partial<DatasetPolicy> = {}): DatasetPolicy => ({
  minImages: 1,
  maxMissingCaptionRatio: 0.5,
  limits: { maxBytes: 1_000_000, maxFiles: 1_000 },
  ...overrides,
});

const listed = (items: (string | [string, number])[]): DatasetReader => ({
  async *entries() {
    for (const item of items) {
      const [path, size] = typeof item === "string" ? [item, 1] : item;
      yield { path, size, kind: "file", open: () => Readable.from([Buffer.alloc(size, 120)]) };
    }
  },
});

/** Drains a checked reader the way the packer does (every kept entry opened) and returns the error. */
async function drain(reader: DatasetReader): Promise<{ error: unknown; seen: string[] }> {
  const seen: string[] = [];
  try {
    for await (const entry of reader.entries()) {
      seen.push(entry.path);
      for await (const _ of await entry.open());
    }
  } catch (error) {
    return { error, seen };
  }
  return { error: undefined, seen };
}

describe("dataset policy on a listing and on a stream", () => {
  it.each([
    [["x.jpg", "x.jpg/y.jpg"], /file "x\.jpg" and also "x\.jpg\/y\.jpg"/],
    [["x.jpg/y.jpg", "x.jpg"], /file "x\.jpg" and also "x\.jpg\/y\.jpg"/],
    [["a/b.txt", "a/b.txt/c/d.png"], /file "a\/b\.txt" and also "a\/b\.txt\/c\/d\.png"/],
    [["./a.jpg", "a.jpg"], /"\.\/a\.jpg" and "a\.jpg" are the same file/],
    [["a.jpg", "a.jpg"], /"a\.jpg" appears twice/],
  ])("refuses the clash in %j, naming both paths", async (paths, reason) => {
    const listing = await checkDatasetListing(listed(paths), policy()).catch((e) => e);
    expect(listing).toBeInstanceOf(DatasetRejectedError);
    expect(listing.message).toMatch(reason);
    const streamed = await drain(checkedDatasetReader(listed(paths), policy()));
    expect(streamed.error).toBeInstanceOf(DatasetRejectedError);
    // Stopped at the second path: the packer never receives it.
    expect(streamed.seen).toEqual(paths.slice(0, 1));
  });

  it("ignores clashes with entries that never reach the instance", async () => {
    // `x.jpg/notes.md` is skipped by the packer, so no folder `x.jpg` is ever created.
    const summary = await checkDatasetListing(listed(["x.jpg", "x.jpg/notes.md", "x.txt"]), policy());
    expect(summary).toEqual({ files: 3, bytes: 3, images: 1, captions: 1 });
  });

  it("finds exactly the clashes a brute-force comparison finds", async () => {
    const segment = fc.constantFrom("a", "b.jpg", "b.txt", "c.png");
    const path = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join("/"));
    await fc.assert(
      fc.asyncProperty(fc.array(path, { maxLength: 8 }), async (paths) => {
        const kept = paths.filter((p) => classifyEntry(p) !== "skip");
        const clash = kept.some((p, i) => kept.some((q, j) => i !== j && (p === q || q.startsWith(`${p}/`))));
        const result = await checkDatasetListing(
          listed(paths),
          policy({ minImages: 0, maxMissingCaptionRatio: 1 }),
        )
          .then(() => null)
          .catch((e: unknown) => e);
        const images = kept.filter((p) => classifyEntry(p) === "image").length;
        if (clash) expect(result).toBeInstanceOf(DatasetRejectedError);
        else if (images === 0) expect((result as Error).message).toMatch(/no images/);
        else expect(result).toBeNull();
      }),
      { numRuns: 300, seed: 11 },
    );
  });

  it("applies the file and byte limits to every entry, skipped ones included", async () => {
    const limits = { maxBytes: 100, maxFiles: 3 };
    const tooMany = await checkDatasetListing(
      listed(["a.jpg", "a.txt", "notes.md", "b.jpg"]),
      policy({ limits }),
    ).catch((e) => e);
    expect(tooMany).toBeInstanceOf(DatasetRejectedError);
    expect(tooMany.message).toMatch(/more than 3 files/);
    const tooBig = await checkDatasetListing(
      listed([
        ["a.jpg", 60],
        ["video.mp4", 41],
      ]),
      policy({ limits }),
    ).catch((e) => e);
    expect(tooBig).toBeInstanceOf(DatasetRejectedError);
    expect(tooBig.message).toMatch(/exceeds the 100 B size limit \(at least 101 B/);
    // Exactly at the limits is fine.
    const atLimit = await checkDatasetListing(
      listed([
        ["a.jpg", 60],
        ["a.txt", 40],
      ]),
      policy({ limits: { maxBytes: 100, maxFiles: 2 } }),
    );
    expect(atLimit).toMatchObject({ files: 2, bytes: 100 });
  });

  it("counts image files (two images may share a caption) and applies the caption rule", async () => {
    expect(await checkDatasetListing(listed(["a.jpg", "a.png", "a.txt"]), policy())).toMatchObject({
      images: 2,
      captions: 1,
    });
    const uncaptioned = await checkDatasetListing(
      listed(["a.jpg", "b.jpg", "c.jpg", "a.txt"]),
      policy(),
    ).catch((e) => e);
    expect(uncaptioned.message).toBe("2 of 3 images have no .txt caption (at most 50% may lack one)");
    const empty = await checkDatasetListing(listed(["notes.md"]), policy({ minImages: 0 })).catch((e) => e);
    expect(empty.message).toMatch(/contains no images/);
    const few = await checkDatasetListing(listed(["a.jpg", "a.txt"]), policy({ minImages: 5 })).catch(
      (e) => e,
    );
    expect(few.message).toBe("the dataset has 1 images; at least 5 are needed");
  });

  it("keeps hostile names an UnsafeDatasetEntryError", async () => {
    const error = await checkDatasetListing(listed(["a.jpg", "../b.jpg"]), policy()).catch((e) => e);
    expect(error).toBeInstanceOf(UnsafeDatasetEntryError);
  });

  it("fails a streamed dataset with no images before the packer writes its manifest", async () => {
    const packed = packDataset(checkedDatasetReader(listed(["notes.md", "x.gif"]), policy()).entries());
    packed.stream.on("error", () => {}).resume();
    await expect(packed.summary).rejects.toBeInstanceOf(DatasetRejectedError);
  });

  it("knows which sources list before streaming", () => {
    expect(isListingSource({ kind: "s3", bucket: "abc", prefix: "" })).toBe(true);
    expect(isListingSource({ kind: "local", path: "/x" })).toBe(true);
    expect(isListingSource({ kind: "https", url: "https://example.com/x.tar" })).toBe(false);
  });
});

describe("an HTTPS archive that expands past the byte limit", () => {
  let server: TestHttpsServer;
  const FILE_BYTES = 1024 * 1024;
  const FILES = 64;
  let archive: Buffer;

  beforeAll(async () => {
    // 64 MiB of zeros (one image + caption pair after another): a few hundred KiB gzipped.
    const pack = tar.pack();
    const zeros = Buffer.alloc(FILE_BYTES);
    for (let i = 0; i < FILES; i++) {
      pack.entry({ name: `img-${i}.${i % 2 ? "txt" : "png"}`, size: zeros.length }, zeros);
    }
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of pack) chunks.push(chunk as Buffer);
    archive = gzipSync(Buffer.concat(chunks));
    server = await startHttpsServer((_req, res) => {
      res.on("error", () => {});
      res.writeHead(200, { "content-length": archive.length }).end(archive);
    });
  });
  afterAll(() => server?.close());

  it("is stopped with DatasetRejectedError as soon as the running total passes it", async () => {
    expect(archive.length).toBeLessThan(FILE_BYTES);
    const maxBytes = 5 * FILE_BYTES;
    const reader = checkedDatasetReader(
      httpsArchiveReader(`${server.base}/bomb.tar.gz`, { agent: server.agent }),
      {
        ...policy(),
        limits: { maxBytes, maxFiles: 10_000 },
      },
    );
    const opened: DatasetEntry[] = [];
    const error = await (async () => {
      for await (const entry of reader.entries()) {
        opened.push(entry);
        for await (const _ of await entry.open());
      }
    })().catch((e) => e);
    expect(error).toBeInstanceOf(DatasetRejectedError);
    expect(error.message).toMatch(/exceeds the 5\.2 MB size limit \(at least 6\.3 MB of files\)/);
    // The sixth entry's header tipped it over: five files were handed on, not sixty-four.
    expect(opened).toHaveLength(5);
  });
});
