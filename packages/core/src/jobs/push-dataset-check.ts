/**
 * Dataset checks beyond name safety (which the packer enforces): a dataset must hold images,
 * and most of them need a caption. Listing sources (S3, local folder) are checked from their
 * listing before a byte is sent; every source is also checked as it streams, failing before the
 * manifest goes out, so an HTTPS archive that turns out empty never verifies on the instance.
 */
import {
  checkEntryName,
  classifyEntry,
  type DatasetEntry,
  type DatasetReader,
  type DatasetSource,
} from "../dataset";

export interface DatasetPolicy {
  minImages: number;
  maxMissingCaptionRatio: number;
}

/** The dataset is unusable for training; the job fails, nothing is retried. */
export class DatasetRejectedError extends Error {
  override readonly name = "DatasetRejectedError";
}

class Tally {
  private readonly images = new Set<string>();
  private readonly captions = new Set<string>();

  add(path: string): void {
    const name = checkEntryName(path);
    const kind = classifyEntry(name);
    const stem = name.slice(0, name.lastIndexOf("."));
    if (kind === "image") this.images.add(stem);
    else if (kind === "caption") this.captions.add(stem);
  }

  verdict(policy: DatasetPolicy): void {
    const images = this.images.size;
    if (images < policy.minImages) {
      throw new DatasetRejectedError(
        images === 0
          ? "the dataset contains no images (jpg, jpeg, png or webp)"
          : `the dataset has ${images} images; at least ${policy.minImages} are needed`,
      );
    }
    let missing = 0;
    for (const stem of this.images) if (!this.captions.has(stem)) missing++;
    if (missing / images > policy.maxMissingCaptionRatio) {
      throw new DatasetRejectedError(
        `${missing} of ${images} images have no .txt caption (at most ${Math.round(policy.maxMissingCaptionRatio * 100)}% may lack one)`,
      );
    }
  }
}

/** Sources that list every name before yielding (so a listing pass costs no data transfer). */
export function isListingSource(source: DatasetSource): boolean {
  return source.kind === "s3" || source.kind === "local";
}

/** Walks a listing source's names without opening a file; throws on a bad dataset. */
export async function precheckDataset(reader: DatasetReader, policy: DatasetPolicy): Promise<void> {
  const tally = new Tally();
  for await (const entry of reader.entries()) if (entry.kind === "file") tally.add(entry.path);
  tally.verdict(policy);
}

/** The same checks while the dataset streams: the error surfaces before the manifest is packed. */
export function checkedDatasetReader(reader: DatasetReader, policy: DatasetPolicy): DatasetReader {
  return {
    async *entries(signal?: AbortSignal): AsyncGenerator<DatasetEntry> {
      const tally = new Tally();
      for await (const entry of reader.entries(signal)) {
        if (entry.kind === "file") tally.add(entry.path);
        yield entry;
      }
      tally.verdict(policy);
    },
  };
}
