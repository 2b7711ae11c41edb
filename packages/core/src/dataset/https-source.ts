/**
 * A dataset published as one archive at an HTTPS URL (.tar or .tar.gz, detected from the
 * bytes). The archive is read as a stream and its entries are re-packed one by one, so even a
 * multi-gigabyte archive never sits on disk or in memory. Zip is refused: its index sits at the
 * end of the file, which defeats streaming.
 */
import type { Agent, IncomingMessage } from "node:http";
import { get } from "node:https";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import { type DatasetEntry, type DatasetReader, DatasetSourceError } from "./entries";

export interface HttpsArchiveOptions {
  /** Custom agent (e.g. trusting a test CA). */
  agent?: Agent;
  maxRedirects?: number;
  timeoutMs?: number;
}

export function httpsArchiveReader(url: string, options: HttpsArchiveOptions = {}): DatasetReader {
  return {
    async *entries(signal) {
      const response = await fetchFollowing(url, options, options.maxRedirects ?? 5, signal);
      const body = await decompressIfGzip(response);
      const extract = tar.extract();
      const feeding = pipeline(body, extract).catch((error: unknown) => {
        extract.destroy(error instanceof Error ? error : new Error(String(error)));
      });
      try {
        for await (const entry of extract) {
          const { name, size, type } = entry.header;
          if (type === "directory") {
            entry.resume();
            continue;
          }
          let consumed = false;
          const item: DatasetEntry = {
            path: name,
            size: size ?? 0,
            kind: type === "file" || type === "contiguous-file" ? "file" : "other",
            open: (): AsyncIterable<Uint8Array> => {
              consumed = true;
              return entry as AsyncIterable<Buffer>;
            },
          };
          yield item;
          // A skipped entry must still be drained for the extractor to reach the next header.
          if (!consumed) entry.resume();
        }
      } finally {
        response.destroy();
        await feeding;
      }
    },
  };
}

function fetchFollowing(
  url: string,
  options: HttpsArchiveOptions,
  redirectsLeft: number,
  signal?: AbortSignal,
): Promise<IncomingMessage> {
  if (!url.startsWith("https://"))
    return Promise.reject(new DatasetSourceError("dataset URLs must use https"));
  return new Promise((resolve, reject) => {
    const request = get(
      url,
      { agent: options.agent, timeout: options.timeoutMs ?? 30_000, signal },
      (response) => {
        const status = response.statusCode ?? 0;
        if (status >= 300 && status < 400 && response.headers.location) {
          response.resume();
          if (redirectsLeft <= 0)
            return reject(new DatasetSourceError("too many redirects fetching the dataset"));
          const next = new URL(response.headers.location, url).toString();
          return resolve(fetchFollowing(next, options, redirectsLeft - 1, signal));
        }
        if (status !== 200) {
          response.resume();
          // The URL may carry a presigned query string: report the origin and path only.
          return reject(
            new DatasetSourceError(`dataset download failed: HTTP ${status} from ${redactQuery(url)}`),
          );
        }
        resolve(response);
      },
    );
    request.on("timeout", () => request.destroy(new DatasetSourceError("dataset download timed out")));
    request.on("error", (error) =>
      reject(
        error instanceof DatasetSourceError
          ? error
          : new DatasetSourceError(`dataset download failed: ${error.message} (${redactQuery(url)})`),
      ),
    );
  });
}

function redactQuery(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/** Sniffs the first bytes: gzip magic → gunzip; zip magic → refuse; otherwise plain tar. */
async function decompressIfGzip(source: Readable): Promise<Readable> {
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  const head: Buffer = first.done ? Buffer.alloc(0) : (first.value as Buffer);
  if (head[0] === 0x50 && head[1] === 0x4b) {
    source.destroy();
    throw new DatasetSourceError("zip archives are not supported; publish the dataset as .tar or .tar.gz");
  }
  const rest = Readable.from(
    (async function* () {
      if (head.length > 0) yield head;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value as Buffer;
      }
    })(),
  );
  if (head[0] !== 0x1f || head[1] !== 0x8b) return rest;
  const out = new PassThrough();
  pipeline(rest, createGunzip(), out).catch((error: unknown) => out.destroy(error as Error));
  return out;
}
