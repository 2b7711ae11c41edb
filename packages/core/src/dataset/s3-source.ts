/**
 * A dataset under an S3 prefix: `ListObjectsV2` (paginated) for names and sizes, `GetObject`
 * streamed per file when the packer reaches it. Keys become paths relative to the prefix.
 * S3 refusals that no retry cures (no such bucket, access denied, …) become permanent
 * `DatasetSourceError`s; throttling, 5xx and network errors are rethrown unchanged.
 */
import type { Readable } from "node:stream";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { type DatasetEntry, type DatasetReader, DatasetSourceError } from "./entries";
import { checkEntryName } from "./entry-name";
import { s3SourceError } from "./s3-errors";

export interface S3ListedObject {
  key: string;
  /** The key relative to the prefix's folder, not yet name-checked. */
  path: string;
  size: number;
}

/** "photos" must not also match "photos-old/": list the folder, not the string prefix. */
export function s3Folder(prefix: string): string {
  return prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
}

/** Every object under `folder`, page by page (so a caller can stop early), folder markers left out. */
export async function* listS3Objects(
  s3: S3Client,
  bucket: string,
  folder: string,
  options: { pageSize?: number; signal?: AbortSignal } = {},
): AsyncGenerator<S3ListedObject> {
  let token: string | undefined;
  do {
    const page = await s3
      .send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: folder,
          ContinuationToken: token,
          MaxKeys: options.pageSize,
        }),
        { abortSignal: options.signal },
      )
      .catch((error: unknown) => {
        throw s3SourceError(error, { bucket, key: folder });
      });
    for (const object of page.Contents ?? []) {
      const key = object.Key ?? "";
      if (key.endsWith("/")) continue; // console-created "folder" markers
      yield { key, path: key.slice(folder.length), size: object.Size ?? 0 };
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

export function s3DatasetReader(
  s3: S3Client,
  bucket: string,
  prefix = "",
  options: { pageSize?: number } = {},
): DatasetReader {
  const folder = s3Folder(prefix);
  return {
    async *entries(signal) {
      const listed: DatasetEntry[] = [];
      for await (const { key, path, size } of listS3Objects(s3, bucket, folder, {
        pageSize: options.pageSize,
        signal,
      })) {
        checkEntryName(path);
        listed.push({
          path,
          size,
          kind: "file",
          repeatable: true,
          open: async () => {
            const response = await s3
              .send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal })
              .catch((error: unknown) => {
                throw s3SourceError(error, { bucket, key });
              });
            if (!response.Body) throw new DatasetSourceError(`s3://${bucket}/${key} has no body`);
            return response.Body as Readable;
          },
        });
      }
      yield* listed;
    },
  };
}
