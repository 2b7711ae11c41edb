/**
 * The HTTP layer under `VastAIClient`: one place for auth, per-request timeouts, caller
 * cancellation, per-endpoint spacing, retries with backoff, error mapping and redaction.
 * Create is special: it is never retried, and any failure after it may have reached Vast
 * (timeout, network error, 5xx, caller abort) is marked ambiguous.
 */
import type { Clock } from "../clock";
import type { Logger } from "../observability";
import type { VastEndpoint } from "./endpoints";
import { errorFromResponse, VastAIError } from "./errors";
import type { EndpointRateLimiter } from "./rate-limiter";
import { pathOf, type Redactor, redactDeep } from "./redaction";
import { backoffDelayMs, type RetryPolicy } from "./retry";

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * - `idempotent`: retried on 429/502/503/504, network errors and timeouts.
 * - `once`: retried only on 429 (Vast rejected it unprocessed); for non-idempotent calls.
 * - `create`: never retried; failures that may have been applied are ambiguous.
 */
export type RetryMode = "idempotent" | "once" | "create";

export interface VastHttpRequest {
  endpoint: VastEndpoint;
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Path under the base URL (`/api/v0/...`), or an absolute URL (a logs `result_url`). */
  path: string;
  /** Values are sent as given (URL-encoded); callers JSON-encode where Vast expects it. */
  query?: Record<string, string>;
  body?: unknown;
  mode: RetryMode;
  signal?: AbortSignal;
  /** Statuses the caller handles itself (no mapping to an error, no retry). */
  acceptStatus?: (status: number) => boolean;
  /** `text` returns the body as-is (log contents); default parses JSON when it can. */
  responseType?: "json" | "text";
  /**
   * Awaited before each try leaves (after the rate limiter's wait): a caller that must know when
   * Vast may have acted (a destroy's billing end) records the moment first. If it throws, nothing
   * is sent.
   */
  beforeSend?: () => Promise<void>;
}

export interface VastHttpResponse {
  status: number;
  /** Parsed JSON, or the raw text when the body is not JSON, or null when empty. */
  body: unknown;
}

export interface VastHttpDeps {
  apiKey: string;
  baseUrl: string;
  timeoutMs: number;
  retry: RetryPolicy;
  limiter: EndpointRateLimiter;
  clock: Clock;
  random: () => number;
  logger: Logger;
  fetch: FetchLike;
  redact: Redactor;
}

/** Thrown into the per-request controller so a timeout is told apart from a caller abort. */
class RequestTimeout extends Error {}

export class VastHttp {
  private readonly origin: string;

  constructor(private readonly deps: VastHttpDeps) {
    this.origin = new URL(deps.baseUrl).origin;
  }

  async request(req: VastHttpRequest): Promise<VastHttpResponse> {
    const { retry, clock, random, logger } = this.deps;
    const label = `${req.method} ${pathOf(this.urlFor(req))}`;
    for (let attempt = 1; ; attempt++) {
      await this.waitOrAbort(() => this.deps.limiter.acquire(req.endpoint, req.signal), req, label);
      await req.beforeSend?.();
      try {
        return await this.attempt(req, label, attempt);
      } catch (error) {
        if (
          !(error instanceof VastAIError) ||
          !this.mayRetry(req.mode, error) ||
          attempt >= retry.maxAttempts
        ) {
          throw error;
        }
        const delayMs = backoffDelayMs(attempt, retry, random);
        logger.warn("vast request retry", { endpoint: label, attempt, code: error.code, delayMs });
        await this.waitOrAbort(() => clock.sleep(delayMs, req.signal), req, label);
      }
    }
  }

  private mayRetry(mode: RetryMode, error: VastAIError): boolean {
    if (mode === "create") return false;
    if (mode === "once") return error.code === "rate_limited";
    return error.retryable;
  }

  private urlFor(req: VastHttpRequest): string {
    const url = /^https?:\/\//i.test(req.path) ? new URL(req.path) : new URL(req.path, this.deps.baseUrl);
    for (const [key, value] of Object.entries(req.query ?? {})) url.searchParams.set(key, value);
    return url.toString();
  }

  private async waitOrAbort(wait: () => Promise<void>, req: VastHttpRequest, label: string): Promise<void> {
    try {
      await wait();
    } catch (reason) {
      throw this.abortedError(req, label, reason, false);
    }
  }

  private abortedError(req: VastHttpRequest, label: string, reason: unknown, sent: boolean): VastAIError {
    return new VastAIError({
      code: "unknown",
      message: `Vast ${label}: aborted by the caller`,
      endpoint: label,
      ambiguous: sent && req.mode === "create",
      cause: this.sanitize(reason),
    });
  }

  private async attempt(req: VastHttpRequest, label: string, attempt: number): Promise<VastHttpResponse> {
    const { timeoutMs, logger, clock, redact } = this.deps;
    const url = this.urlFor(req);
    const isCreate = req.mode === "create";
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new RequestTimeout("timeout")), timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout.signal]) : timeout.signal;
    const started = clock.now();
    let status: number;
    let text: string;
    try {
      const response = await this.deps.fetch(url, {
        method: req.method,
        headers: this.headersFor(url, req.body !== undefined),
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal,
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      if (req.signal?.aborted) throw this.abortedError(req, label, req.signal.reason, true);
      const timedOut = timeout.signal.aborted;
      logger.warn("vast request failed", { endpoint: label, attempt, timedOut });
      throw new VastAIError({
        code: timedOut ? "timeout" : "network",
        message: timedOut
          ? `Vast ${label}: no response within ${timeoutMs} ms`
          : `Vast ${label}: network error (${redact(describe(error))})`,
        endpoint: label,
        retryable: !isCreate,
        ambiguous: isCreate,
        cause: timedOut ? undefined : this.sanitize(error),
      });
    } finally {
      clearTimeout(timer);
    }
    const body = req.responseType === "text" ? text : parseBody(text);
    logger.debug("vast request", { endpoint: label, attempt, status, durationMs: clock.now() - started });
    if (req.acceptStatus?.(status)) return { status, body };
    const failed = status < 200 || status >= 300 || isUnsuccessful(body);
    if (!failed) return { status, body };
    // The body is redacted whole before anything is taken from it, and each text taken from it
    // again after it is cut (see `extractErrorMessage`).
    throw errorFromResponse({
      status,
      body: redactDeep(req.responseType === "text" ? parseBody(text) : body, redact),
      endpoint: label,
      isCreate,
      instanceId: isCreate ? contractIdOf(body) : null,
      redact,
    });
  }

  private headersFor(url: string, hasBody: boolean): Record<string, string> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (hasBody) headers["Content-Type"] = "application/json";
    // The key goes only to Vast's own origin, never to a presigned log URL on another host.
    if (new URL(url).origin === this.origin) headers.Authorization = `Bearer ${this.deps.apiKey}`;
    return headers;
  }

  /** A cause that keeps the diagnostic text but cannot carry the key (or a URL holding it). */
  private sanitize(error: unknown): Error {
    const safe = new Error(this.deps.redact(describe(error)));
    safe.stack = safe.stack ? this.deps.redact(safe.stack) : undefined;
    return safe;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
    const detail = cause && typeof cause === "object" ? (cause.code ?? cause.message) : undefined;
    return detail ? `${error.message}: ${String(detail)}` : error.message;
  }
  return String(error);
}

function parseBody(text: string): unknown {
  if (!text.trim()) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isUnsuccessful(body: unknown): boolean {
  return !!body && typeof body === "object" && (body as Record<string, unknown>).success === false;
}

/** `new_contract` as a positive integer (it may arrive as a numeric string). */
export function contractIdOf(body: unknown): number | null {
  if (!body || typeof body !== "object" || Array.isArray(body)) return null;
  const raw = (body as Record<string, unknown>).new_contract;
  const id = typeof raw === "string" && raw.trim() !== "" ? Number(raw.trim()) : raw;
  return typeof id === "number" && Number.isSafeInteger(id) && id > 0 ? id : null;
}
