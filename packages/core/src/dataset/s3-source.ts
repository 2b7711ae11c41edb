/**
 * A dataset under an S3 prefix: `ListObjectsV2` (paginated) for names and sizes, `GetObject`
 * streamed per file when the packer reaches it. Keys become paths relative to the prefix.
 */
import type { Readable } from "node:stream";
import { GetObjectCommand, paginateListObjectsV2, type S3Client } from "@aws-sdk/client-s3";
import { type DatasetEntry, type DatasetReader, DatasetSourceError } from "./entries";
import { checkEntryName } from "./entry-name";

export function s3DatasetReader(
  s3: S3Client,
  bucket: string,
  prefix = "",
  options: { pageSize?: number } = {},
): DatasetReader {
  // "photos" must not also match "photos-old/": list the folder, not the string prefix.
  const folder = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
  return {
    async *entries(signal) {
      const listed: DatasetEntry[] = [];
      for await (const page of paginateListObjectsV2(
        { client: s3, pageSize: options.pageSize },
        { Bucket: bucket, Prefix: folder },
      )) {
        for (const object of page.Contents ?? []) {
          const key = object.Key ?? "";
          if (key.endsWith("/")) continue; // console-created "folder" markers
          const path = key.slice(folder.length);
          checkEntryName(path);
          listed.push({
            path,
            size: object.Size ?? 0,
            kind: "file",
            open: async () => {
              const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), {
                abortSignal: signal,
              });
              if (!response.Body) throw new DatasetSourceError(`s3://${bucket}/${key} has no body`);
              return response.Body as Readable;
            },
          });
        }
      }
      yield* listed;
    },
  };
}
