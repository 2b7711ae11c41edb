/** Seeded dataset generators for the dataset tests and benchmarks (no Math.random: reruns are identical). */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import tar from "tar-stream";

import { seededRandom } from "../../src/retry";

export { seededRandom };

export function seededBytes(random: () => number, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(random() * 256);
  return out;
}

const EXTENSIONS = ["jpg", "jpeg", "png", "webp"] as const;

/**
 * Writes `pairs` image+caption pairs (spread over a few sub-folders) plus a couple of files
 * the packer must skip. Returns the relative paths that should arrive.
 */
export async function writeDataset(
  root: string,
  options: { pairs: number; seed: number; minBytes?: number; maxBytes?: number },
): Promise<string[]> {
  const random = seededRandom(options.seed);
  const min = options.minBytes ?? 200;
  const max = options.maxBytes ?? 2_000;
  const expected: string[] = [];
  for (let i = 0; i < options.pairs; i++) {
    const folder = `set-${i % 4}`;
    await mkdir(join(root, folder), { recursive: true });
    const ext = EXTENSIONS[i % EXTENSIONS.length];
    const base = `${folder}/img ${String(i).padStart(5, "0")}`;
    const size = min + Math.floor(random() * (max - min));
    await writeFile(join(root, `${base}.${ext}`), seededBytes(random, size));
    await writeFile(join(root, `${base}.txt`), `a photo of sks person, take ${i}`);
    expected.push(`${base}.${ext}`, `${base}.txt`);
  }
  await writeFile(join(root, "notes.md"), "not part of the dataset");
  await writeFile(join(root, ".DS_Store"), "junk");
  return expected.sort();
}

/** sha256 of every regular file under `root`, keyed by relative path. */
export async function hashTree(root: string, relative = ""): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of await readdir(join(root, relative))) {
    const path = relative ? `${relative}/${name}` : name;
    const full = join(root, path);
    if ((await stat(full)).isDirectory()) {
      for (const [k, v] of await hashTree(root, path)) out.set(k, v);
    } else {
      out.set(
        path,
        createHash("sha256")
          .update(await readFile(full))
          .digest("hex"),
      );
    }
  }
  return out;
}

/** A tar stream (tar-stream's writer, an independent one) of `files` as given: name and content. */
export async function tarOf(files: readonly (readonly [string, string | Buffer])[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, data] of files) pack.entry({ name }, data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
