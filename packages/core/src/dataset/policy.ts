/**
 * What makes a dataset usable, beyond name safety (which `checkEntryName` enforces): it fits the
 * size limits, no two entries land on the same path, it holds enough images, and most of them
 * have a caption. The same rules run twice:
 *
 * - on a listing (S3 prefix, local folder) before anything is rented or sent
 *   (`checkDatasetListing`, and `inspectDataset` which builds on it);
 * - on the stream itself (`checkedDatasetReader`), entry by entry, so an HTTPS archive that
 *   expands past the limits, or turns out empty, fails before its manifest is packed — and
 *   before the instance's disk fills up.
 */
import type { DatasetEntry, DatasetReader } from "./entries";
import { checkEntryName, classifyEntry } from "./entry-name";
import type { DatasetSource } from "./source";
import { formatBytes } from "./units";

/** Hard ceilings on what one job may push. Every entry the source yields counts (skipped ones too). */
export interface DatasetLimits {
  /**
   * Most bytes of files (the expanded payload: the sum of entry sizes, not an archive's
   * compressed size). Entries the packer skips still count: an archive's bytes are all read.
   */
  maxBytes: number;
  /** Most entries (files, and links or devices that are skipped). */
  maxFiles: number;
}

/** What a dataset must satisfy to be trained on. */
export interface DatasetPolicy {
  /** Fewest image files (jpg, jpeg, png, webp). */
  minImages: number;
  /** Largest share (0–1) of images that may lack a `.txt` caption of the same name. */
  maxMissingCaptionRatio: number;
  limits: DatasetLimits;
}

/** The dataset is unusable for training (or unreadable for good); the job fails, nothing is retried. */
export class DatasetRejectedError extends Error {
  override readonly name = "DatasetRejectedError";
}

/** What a listing check counted. */
export interface DatasetTallySummary {
  /** Every entry seen, skipped ones included (what `DatasetLimits.maxFiles` bounds). */
  files: number;
  /** Sum of every entry's size (what `DatasetLimits.maxBytes` bounds). */
  bytes: number;
  images: number;
  captions: number;
}

const quoted = (path: string) => JSON.stringify(path.slice(0, 300));

/**
 * Counts a dataset entry by entry and throws `DatasetRejectedError` (or `UnsafeDatasetEntryError`
 * for a hostile name) as soon as an entry breaks a rule; `verdict` applies the rules that need
 * the whole dataset. Memory grows with the number of kept names only.
 */
export class DatasetTally {
  #files = 0;
  #bytes = 0;
  #captions = 0;
  /** One stem per image file: `a.jpg` and `a.png` are two images sharing `a.txt`. */
  readonly #imageStems: string[] = [];
  readonly #captionStems = new Set<string>();
  /** Kept file name (as it lands on disk) → the path as the source spelled it. */
  readonly #keptFiles = new Map<string, string>();
  /** Folder a kept file needs → the first kept path inside it. */
  readonly #keptFolders = new Map<string, string>();

  constructor(private readonly limits: DatasetLimits) {}

  add(entry: Pick<DatasetEntry, "path" | "size" | "kind">): void {
    this.#files++;
    this.#bytes += entry.size;
    if (this.#files > this.limits.maxFiles) {
      throw new DatasetRejectedError(
        `the dataset has more than ${this.limits.maxFiles} files, the most a job may push`,
      );
    }
    if (this.#bytes > this.limits.maxBytes) {
      throw new DatasetRejectedError(
        `the dataset exceeds the ${formatBytes(this.limits.maxBytes)} size limit ` +
          `(at least ${formatBytes(this.#bytes)} of files)`,
      );
    }
    const name = checkEntryName(entry.path);
    if (entry.kind !== "file") return;
    const kind = classifyEntry(name);
    if (kind === "skip") return;
    this.#claimPath(name, entry.path);
    const stem = name.slice(0, name.lastIndexOf("."));
    if (kind === "image") this.#imageStems.push(stem);
    else {
      this.#captions++;
      this.#captionStems.add(stem);
    }
  }

  /**
   * A kept file must not share its path with another kept file, nor with a folder another kept
   * file needs (`x.jpg` beside `x.jpg/y.jpg`): `tar` on the instance would fail on the second.
   */
  #claimPath(name: string, path: string): void {
    const twin = this.#keptFiles.get(name);
    if (twin !== undefined) {
      throw new DatasetRejectedError(
        twin === path
          ? `${quoted(path)} appears twice in the dataset`
          : `${quoted(twin)} and ${quoted(path)} are the same file in the dataset`,
      );
    }
    const inside = this.#keptFolders.get(name);
    if (inside !== undefined) throw this.#fileFolderClash(path, inside);
    for (let slash = name.indexOf("/"); slash !== -1; slash = name.indexOf("/", slash + 1)) {
      const folder = name.slice(0, slash);
      const file = this.#keptFiles.get(folder);
      if (file !== undefined) throw this.#fileFolderClash(file, path);
      if (!this.#keptFolders.has(folder)) this.#keptFolders.set(folder, path);
    }
    this.#keptFiles.set(name, path);
  }

  #fileFolderClash(file: string, inside: string): DatasetRejectedError {
    return new DatasetRejectedError(
      `the dataset has a file ${quoted(file)} and also ${quoted(inside)}, which needs a folder of that name`,
    );
  }

  /** Throws when the dataset as a whole is unusable; returns what was counted otherwise. */
  verdict(policy: DatasetPolicy): DatasetTallySummary {
    const images = this.#imageStems.length;
    if (images < policy.minImages || images === 0) {
      throw new DatasetRejectedError(
        images === 0
          ? "the dataset contains no images (jpg, jpeg, png or webp)"
          : `the dataset has ${images} images; at least ${policy.minImages} are needed`,
      );
    }
    let missing = 0;
    for (const stem of this.#imageStems) if (!this.#captionStems.has(stem)) missing++;
    if (missing / images > policy.maxMissingCaptionRatio) {
      throw new DatasetRejectedError(
        `${missing} of ${images} images have no .txt caption (at most ${Math.round(policy.maxMissingCaptionRatio * 100)}% may lack one)`,
      );
    }
    return { files: this.#files, bytes: this.#bytes, images, captions: this.#captions };
  }
}

/** Sources that list every name before yielding (so a listing pass costs no data transfer). */
export function isListingSource(source: DatasetSource): boolean {
  return source.kind === "s3" || source.kind === "local";
}

/**
 * Walks a listing source's names and sizes without opening a file; throws
 * `DatasetRejectedError` (or `UnsafeDatasetEntryError`) for a bad dataset.
 */
export async function checkDatasetListing(
  reader: DatasetReader,
  policy: DatasetPolicy,
  signal?: AbortSignal,
): Promise<DatasetTallySummary> {
  const tally = new DatasetTally(policy.limits);
  for await (const entry of reader.entries(signal)) tally.add(entry);
  return tally.verdict(policy);
}

/**
 * The same checks while the dataset streams: every entry is counted before the packer sees it,
 * so a limit or a clash stops the stream at that entry, and a failed verdict surfaces before
 * the manifest is packed (the instance never verifies a bad dataset).
 */
export function checkedDatasetReader(reader: DatasetReader, policy: DatasetPolicy): DatasetReader {
  return {
    async *entries(signal?: AbortSignal): AsyncGenerator<DatasetEntry> {
      const tally = new DatasetTally(policy.limits);
      for await (const entry of reader.entries(signal)) {
        tally.add(entry);
        yield entry;
      }
      tally.verdict(policy);
    },
  };
}
