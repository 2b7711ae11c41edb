/** A dataset in a local folder (local stack and tests). Symlinks are not followed: they could point anywhere. */
import { close, createReadStream, open, read } from "node:fs";
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
      const stat = await lstat(full);
      out.push({
        path,
        size: stat.size,
        kind: stat.isFile() ? "file" : "other",
        repeatable: true,
        // One read into a buffer of the listed size is several times cheaper than a stream for the
        // typical small image (and cheaper than readFile, which also stats and reads to EOF).
        open: () =>
          stat.size <= SMALL_FILE_BYTES
            ? (async function* () {
                yield await readSmallFile(full, stat.size);
              })()
            : createReadStream(full, { highWaterMark: 512 * 1024 }),
      });
    }
  };
  await walk("");
  return out;
}

/**
 * The file's bytes in one buffer of its listed size plus one byte, so a file that grew since it was
 * listed comes back longer and the packer's size check refuses it. Three thread-pool round trips:
 * open, read, close.
 */
function readSmallFile(path: string, size: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    open(path, "r", (openError, fd) => {
      if (openError) return reject(openError);
      const buffer = Buffer.allocUnsafe(size + 1);
      let length = 0;
      const finish = (error: Error | null) =>
        close(fd, (closeError) => {
          const failure = error ?? closeError;
          if (failure) reject(failure);
          else resolve(buffer.subarray(0, length));
        });
      const next = () => {
        const wanted = buffer.length - length;
        read(fd, buffer, length, wanted, null, (readError, n) => {
          if (readError) return finish(readError);
          length += n;
          // A regular file reads short only at its end: usually one read does it all.
          if (n < wanted || length === buffer.length) return finish(null);
          next();
        });
      };
      next();
    });
  });
}
