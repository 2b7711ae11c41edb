/** A dataset in a local folder (local stack and tests). Symlinks are not followed: they could point anywhere. */
import { createReadStream } from "node:fs";
import { lstat, opendir, readFile } from "node:fs/promises";
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
        // One readFile is several times cheaper than a stream for the typical small image.
        open: () =>
          stat.size <= SMALL_FILE_BYTES
            ? (async function* () {
                yield await readFile(full);
              })()
            : createReadStream(full, { highWaterMark: 256 * 1024 }),
      });
    }
  };
  await walk("");
  return out;
}
