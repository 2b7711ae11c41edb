/**
 * A dataset in a local folder (local stack, tests, benchmarks). Symlinks are not followed: they
 * could point anywhere. Small files are read synchronously (`readSync`): from a local disk that is
 * far cheaper than a thread-pool round trip for each open, read and close.
 */
import { closeSync, constants, createReadStream, lstatSync, openSync, readSync } from "node:fs";
import { lstat, opendir } from "node:fs/promises";
import { join } from "node:path";
import { type DatasetEntry, type DatasetReader, DatasetSourceError } from "./entries";
import { checkEntryName } from "./entry-name";

const SMALL_FILE_BYTES = 1024 * 1024;

export function localDatasetReader(root: string): DatasetReader {
  return {
    async *entries() {
      const listed = await listFolder(root);
      for (const entry of listed) checkEntryName(entry.path);
      yield* listed;
    },
  };
}

async function listFolder(root: string): Promise<DatasetEntry[]> {
  const rootStat = await lstat(root).catch(() => null);
  if (!rootStat?.isDirectory())
    throw new DatasetSourceError(`dataset folder not found: ${root}`, { permanent: true });
  const out: DatasetEntry[] = [];
  const walk = async (relative: string) => {
    const dir = await opendir(join(root, relative));
    const names: { name: string; isDir: boolean }[] = [];
    for await (const dirent of dir) names.push({ name: dirent.name, isDir: dirent.isDirectory() });
    // Sorted so the stream, its manifest and its hash are reproducible.
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const { name, isDir } of names) {
      const path = relative ? `${relative}/${name}` : name;
      if (isDir) {
        await walk(path);
        continue;
      }
      const full = join(root, path);
      // Synchronous: a local stat answers in microseconds, a thread-pool round trip per file does not.
      const stat = lstatSync(full);
      const size = stat.size;
      out.push({
        path,
        size,
        kind: stat.isFile() ? "file" : "other",
        repeatable: true,
        readSync: (scratch) => readWholeSync(full, size, scratch),
        readAt: (target, position) => readAtSync(full, target, position),
        open: () =>
          size <= SMALL_FILE_BYTES
            ? (async function* () {
                yield readWholeSync(full, size, Buffer.allocUnsafe(size + 1));
              })()
            : createReadStream(full, { highWaterMark: 1024 * 1024 }),
      });
    }
  };
  await walk("");
  return out;
}

/**
 * The file's bytes, read into `scratch` (a new buffer when it is too small): up to the listed size
 * plus one byte, so a file that grew since it was listed comes back longer and the packer's size
 * check refuses it. Never follows a link that replaced the file since it was listed.
 */
function readWholeSync(path: string, size: number, scratch: Buffer): Buffer {
  const buffer = scratch.length > size ? scratch : Buffer.allocUnsafe(size + 1);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, size + 1 - length, null);
      length += n;
      if (n === 0 || length === size + 1) return buffer.subarray(0, length);
    }
  } finally {
    closeSync(fd);
  }
}

/** One positioned read (the file opened and closed around it, never through a link). */
function readAtSync(path: string, target: Buffer, position: number): number {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return readSync(fd, target, 0, target.length, position);
  } finally {
    closeSync(fd);
  }
}
