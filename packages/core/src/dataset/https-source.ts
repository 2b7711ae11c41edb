/**
 * A dataset published as one archive at an HTTPS URL (.tar or .tar.gz, detected from the
 * bytes). The archive is read as a stream and its entries are re-packed one by one, so even a
 * multi-gigabyte archive never sits on disk or in memory. Zip is refused: its index sits at the
 * end of the file, which defeats streaming.
 */
import { type Agent, type IncomingMessage, STATUS_CODES } from "node:http";
import { request as httpsRequest } from "node:https";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import {
  checkOutboundUrl,
  type LookupFunction,
  type OutboundPolicy,
  OutboundRequestRefusedError,
  outboundRequestOptions,
} from "../net";
import { type DatasetEntry, type DatasetReader, DatasetSourceError } from "./entries";

/**
 * How archives are fetched. Every hop (the first request and each redirect) is checked by
 * `checkOutboundUrl` under `policy` and resolved through a guarded lookup, so neither an
 * IP literal nor a name resolving to a private, loopback or link-local address is ever
 * connected to unless `policy` allows its host.
 */
export interface HttpsArchiveOptions {
  /**
   * Hosts allowed although not public. Default: the policy of `agent` when it is a
   * `guardedHttpsAgent`, else the strict default (no loopback, no private address).
   */
  policy?: OutboundPolicy;
  /**
   * Custom agent (e.g. trusting a test CA): best a `guardedHttpsAgent` (then `policy` may be
   * left out). A plain agent works too (each request carries a guarded lookup); an agent with
   * its own `lookup`, or built with another policy than `policy`, is refused.
   */
  agent?: Agent;
  maxRedirects?: number;
  /** Socket inactivity timeout (default 30 s). */
  timeoutMs?: number;
}

export function httpsArchiveReader(url: string, options: HttpsArchiveOptions = {}): DatasetReader {
  return {
    async *entries(signal) {
      const { response } = await requestFollowingRedirects(url, { method: "GET" }, options, signal);
      if (response.statusCode !== 200) {
        response.resume();
        throw httpStatusError(`dataset download failed: HTTP ${response.statusCode}`, response, url);
      }
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

/** Statuses a later try may cure: the server failed, timed out or is rate limiting. */
export function isTransientHttpStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** `HTTP 404 Not Found from https://host/path`, permanent unless the status is transient. */
export function httpStatusError(what: string, response: IncomingMessage, url: string): DatasetSourceError {
  const status = response.statusCode ?? 0;
  const text = STATUS_CODES[status];
  return new DatasetSourceError(`${what}${text ? ` ${text}` : ""} from ${redactQuery(url)}`, {
    permanent: !isTransientHttpStatus(status),
  });
}

/**
 * Network failures that are answers, not accidents: the host name does not exist (a definite
 * NXDOMAIN; `EAI_AGAIN`, a resolver that could not answer, stays transient), or its certificate
 * cannot be trusted — neither heals by itself within a job's retries.
 */
const PERMANENT_NETWORK_CODES = new Set([
  "ENOTFOUND",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_UNTRUSTED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

export interface HttpsRequestSpec {
  method: "GET" | "HEAD";
  headers?: Record<string, string>;
}

/**
 * Sends the request and follows redirects (at most `maxRedirects`, https only), resolving with
 * the first response that is not a redirect, whatever its status; the caller reads or
 * discards its body. Each hop is checked against the outbound policy before it is sent.
 * Failures are `DatasetSourceError`s: permanent for a URL or redirect the policy refuses
 * (non-https, userinfo, a private or loopback address), too many redirects, an unknown host or
 * an untrusted certificate; transient for a timeout or any other network error.
 */
export function requestFollowingRedirects(
  url: string,
  spec: HttpsRequestSpec,
  options: HttpsArchiveOptions,
  signal?: AbortSignal,
): Promise<{ response: IncomingMessage; url: string }> {
  let outbound: ReturnType<typeof outboundRequestOptions>;
  try {
    outbound = outboundRequestOptions({ agent: options.agent, policy: options.policy });
  } catch (error) {
    return Promise.reject(
      new DatasetSourceError(`the dataset fetch is misconfigured: ${(error as Error).message}`, {
        permanent: true,
        cause: error,
      }),
    );
  }
  return requestHop(url, spec, options, outbound, signal, options.maxRedirects ?? 5, false);
}

interface OutboundHop {
  agent: Agent | undefined;
  policy: OutboundPolicy;
  lookup: LookupFunction;
}

/**
 * One hop. `redirected` changes only the words of a refusal: the user named the first URL; a
 * redirect target came from the server, and is not echoed (it may name an internal host).
 */
function requestHop(
  url: string,
  spec: HttpsRequestSpec,
  options: HttpsArchiveOptions,
  outbound: OutboundHop,
  signal: AbortSignal | undefined,
  redirectsLeft: number,
  redirected: boolean,
): Promise<{ response: IncomingMessage; url: string }> {
  try {
    checkOutboundUrl(url, outbound.policy);
  } catch (error) {
    return Promise.reject(refusalError(error, url, redirected));
  }
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      url,
      {
        method: spec.method,
        headers: spec.headers,
        agent: outbound.agent,
        // A guarded agent's own lookup wins over this one; a plain agent's sockets use this.
        lookup: outbound.lookup,
        timeout: options.timeoutMs ?? 30_000,
        signal,
      },
      (response) => {
        const status = response.statusCode ?? 0;
        if (status >= 300 && status < 400 && response.headers.location) {
          response.resume();
          if (redirectsLeft <= 0) {
            return reject(
              new DatasetSourceError(`too many redirects fetching the dataset ${hopName(url, redirected)}`, {
                permanent: true,
              }),
            );
          }
          let next: string;
          try {
            next = new URL(response.headers.location, url).toString();
          } catch {
            return reject(
              new DatasetSourceError("the dataset URL redirected to an invalid URL", { permanent: true }),
            );
          }
          return resolve(requestHop(next, spec, options, outbound, signal, redirectsLeft - 1, true));
        }
        resolve({ response, url });
      },
    );
    request.on("timeout", () =>
      request.destroy(new DatasetSourceError(`dataset download timed out ${hopName(url, redirected)}`)),
    );
    request.on("error", (error: NodeJS.ErrnoException) => {
      if (error instanceof DatasetSourceError) return reject(error);
      // The guarded lookup refused what the name resolved to: nothing was connected to.
      if (error instanceof OutboundRequestRefusedError) return reject(refusalError(error, url, redirected));
      reject(
        // A redirect target's own words (a certificate's names, a resolver's answer) stay out too.
        new DatasetSourceError(
          `dataset download failed: ${redirected ? (error.code ?? "network error") : error.message} ${hopName(url, redirected)}`,
          {
            permanent: error.code !== undefined && PERMANENT_NETWORK_CODES.has(error.code),
            cause: error,
          },
        ),
      );
    });
    request.end();
  });
}

/**
 * A permanent error naming the rule: "the dataset URL points at a private address". The first
 * URL is the user's own and keeps the old "dataset URLs must use https (url)" wording for the
 * scheme; a redirect's target is never echoed.
 */
function refusalError(error: unknown, url: string, redirected: boolean): DatasetSourceError {
  if (!(error instanceof OutboundRequestRefusedError)) {
    return new DatasetSourceError(`the dataset URL cannot be requested (${redactQuery(url)})`, {
      permanent: true,
      cause: error,
    });
  }
  const message =
    error.rule === "scheme"
      ? redirected
        ? "the dataset URL redirected to a URL that is not https (dataset URLs must use https)"
        : `dataset URLs must use https (${redactQuery(url)})`
      : redirected
        ? `the dataset URL redirected to a URL that ${error.reason}`
        : `the dataset URL ${error.reason}`;
  return new DatasetSourceError(message, { permanent: true, cause: error });
}

/** How an error names the hop: the user's own URL, or only that a redirect led there. */
function hopName(url: string, redirected: boolean): string {
  return redirected ? "(after a redirect)" : `(${redactQuery(url)})`;
}

/** The URL without its query string and fragment: a presigned URL's signature must not reach logs. */
export function redactQuery(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return "(an invalid URL)";
  }
}

/** Sniffs the first bytes: gzip magic → gunzip; zip magic → refuse; otherwise plain tar. */
async function decompressIfGzip(source: Readable): Promise<Readable> {
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  const head: Buffer = first.done ? Buffer.alloc(0) : (first.value as Buffer);
  if (head[0] === 0x50 && head[1] === 0x4b) {
    source.destroy();
    throw new DatasetSourceError("zip archives are not supported; publish the dataset as .tar or .tar.gz", {
      permanent: true,
    });
  }
  if (looksLikeHtml(head)) {
    source.destroy();
    throw new DatasetSourceError(
      "the dataset URL serves a web page, not a .tar or .tar.gz archive (a share or login page?)",
      { permanent: true },
    );
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

/** A tar starts with a file name, gzip with 0x1f 0x8b; a web page with `<` (after a BOM or blanks). */
function looksLikeHtml(head: Buffer): boolean {
  const text = head
    .subarray(0, 64)
    .toString("latin1")
    .replace(/^(\xef\xbb\xbf)?\s*/, "");
  return /^<(!doctype|html|head|body|!--)/i.test(text);
}
