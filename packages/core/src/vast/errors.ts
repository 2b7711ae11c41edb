/**
 * The one error type for every Vast.ai failure, and the mapping from Vast's inconsistent
 * error responses (status codes, `{error,msg}` / `message` / `detail` / plain-text bodies)
 * onto a small set of codes the orchestrator can act on.
 */
import type { VastErrorCode } from "./model";
import { type Redactor, redactDeep } from "./redaction";

export interface VastAIErrorInit {
  code: VastErrorCode;
  message: string;
  status?: number | null;
  /** Safe to try again (the request was not applied, or applying it twice is harmless). */
  retryable?: boolean;
  /** The request may or may not have taken effect (a create that timed out): reconcile first. */
  ambiguous?: boolean;
  /** `METHOD /path/` with no query string. */
  endpoint?: string | null;
  /** Vast's own error key (`no_such_ask`, `auth_error`, ...), when it sent one. */
  vastError?: string | null;
  /** An instance that exists despite the failure (create that still returned `new_contract`, or a
   * provision whose follow-up step failed): the caller owns it and must destroy it. */
  instanceId?: number | null;
  cause?: unknown;
}

export class VastAIError extends Error {
  override readonly name = "VastAIError";
  readonly code: VastErrorCode;
  readonly status: number | null;
  readonly retryable: boolean;
  readonly ambiguous: boolean;
  readonly endpoint: string | null;
  readonly vastError: string | null;
  readonly instanceId: number | null;

  constructor(init: VastAIErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.status = init.status ?? null;
    this.retryable = init.retryable ?? false;
    this.ambiguous = init.ambiguous ?? false;
    this.endpoint = init.endpoint ?? null;
    this.vastError = init.vastError ?? null;
    this.instanceId = init.instanceId ?? null;
  }
}

export function isVastAIError(value: unknown): value is VastAIError {
  return value instanceof VastAIError;
}

/** Statuses that mean "not applied, try later" for reads and idempotent calls. */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

const RATE_LIMIT_TEXT = /too frequent|rate[_ ]limit/i;
const FUNDS_TEXT =
  /insufficient[_ ]?(credit|fund|balance)|missing_billing|not enough credit|negative balance/i;
const AUTH_TEXT = /auth_error|invalid user key|invalid api key/i;
const OFFER_GONE_TEXT = /no_such_ask|no longer available|is not available/i;

/** Longest message kept from an error body. */
const MAX_MESSAGE_LENGTH = 500;

const unredacted: Redactor = (text) => text;

/**
 * Picks the human message out of any of Vast's body shapes. With `redact`: the whole body is
 * redacted first (every string and key, at any depth), then the message is picked and cut to
 * 500 characters, then redacted again, because a cut can leave a piece of a key that only the
 * fragment rule of the redactor still recognises.
 */
export function extractErrorMessage(body: unknown, redact: Redactor = unredacted): string | null {
  const message = pickMessage(redactDeep(body, redact));
  return message === null ? null : redact(message.slice(0, MAX_MESSAGE_LENGTH));
}

function pickMessage(body: unknown): string | null {
  if (typeof body === "string") return body.trim() || null;
  if (body && typeof body === "object" && !Array.isArray(body)) {
    const record = body as Record<string, unknown>;
    for (const key of ["msg", "message", "detail", "error"]) {
      const value = record[key];
      if (typeof value === "string" && value.trim()) return value.trim();
      if (value && typeof value === "object") {
        try {
          return JSON.stringify(value);
        } catch {
          // cyclic values cannot come from JSON; ignore defensively
        }
      }
    }
  }
  return null;
}

/** Vast's machine-readable error key, e.g. `no_such_ask`. */
export function extractErrorKey(body: unknown, redact: Redactor = unredacted): string | null {
  if (body && typeof body === "object" && !Array.isArray(body)) {
    const value = (body as Record<string, unknown>).error;
    if (typeof value === "string" && value.trim()) return redact(value.trim());
  }
  return null;
}

export interface HttpFailure {
  status: number;
  body: unknown;
  endpoint: string;
  /** Create rents a GPU: its failures are classified differently (offer gone, ambiguity). */
  isCreate: boolean;
  /** `new_contract` from a create that failed yet still rented an instance. */
  instanceId?: number | null;
  /** Applied to the body (deeply) and to every text taken from it; the client passes its key redactor. */
  redact?: Redactor;
}

/** Maps an HTTP failure (or a 2xx with `success: false`) to a `VastAIError`. */
export function errorFromResponse(failure: HttpFailure): VastAIError {
  const { status, body, endpoint, isCreate } = failure;
  const redact = failure.redact ?? unredacted;
  const vastError = extractErrorKey(body, redact);
  const message = extractErrorMessage(body, redact) ?? `HTTP ${status}`;
  const text = `${vastError ?? ""} ${message}`;
  const instanceId = failure.instanceId ?? null;
  const base = { status, endpoint, vastError, instanceId };

  const make = (code: VastErrorCode, retryable: boolean, ambiguous = false) =>
    new VastAIError({ ...base, code, retryable, ambiguous, message: redact(`Vast ${endpoint}: ${message}`) });

  if (status === 429 || RATE_LIMIT_TEXT.test(text)) return make("rate_limited", true);
  if (status === 401 || status === 403 || AUTH_TEXT.test(text)) return make("auth", false);
  if (FUNDS_TEXT.test(text)) return make("insufficient_funds", false);
  if (isCreate && (status === 404 || status === 410 || OFFER_GONE_TEXT.test(text))) {
    return make("offer_unavailable", false);
  }
  if (status === 404 || /no_such_/i.test(vastError ?? "")) return make("not_found", false);
  if (status === 410)
    return make(vastError === "deprecated_endpoint" ? "invalid_request" : "not_found", false);
  if (/^invalid_/i.test(vastError ?? "")) return make("invalid_request", false);
  if (status >= 500)
    return make("server", RETRYABLE_STATUS.has(status) && !isCreate, isCreate && instanceId === null);
  if (status >= 400 && status < 500) return make("invalid_request", false);
  // A 2xx that says `success: false` without a recognisable reason.
  return make("unknown", false);
}
