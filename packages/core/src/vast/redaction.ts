/**
 * Keeps the Vast API key (and secrets sent in request bodies) out of everything the client emits: error messages, causes, stacks
 * and log records. Vast URLs may carry the key as `api_key=`, and error bodies may echo input
 * at any depth, so bodies are redacted whole (`redactDeep`) and texts again after any cut.
 */
import { redactSecretFragments, redactSecrets } from "../observability";

const API_KEY_PARAM = /(api_key=)[^&\s"']+/gi;
const BEARER = /(bearer\s+)[A-Za-z0-9._~+/=-]+/gi;

/** Pieces of the key this long or longer are redacted too: a cut can leave part of a key. */
export const KEY_FRAGMENT_LENGTH = 8;

export type Redactor = (text: string) => string;

/**
 * The key itself, `api_key=...` and `Bearer ...` (whatever token follows), then any piece of
 * the key of 8 characters or more that is left (a truncated or split echo). `others` are secrets
 * the client sends in bodies (a create's `env`: the Hugging Face token), scrubbed the same way.
 * Idempotent, so it can be applied again after any cut.
 */
export function createRedactor(apiKey: string | undefined, others: readonly string[] = []): Redactor {
  const secrets = [apiKey, ...others];
  return (text) =>
    redactSecretFragments(
      redactSecrets(text, secrets).replace(API_KEY_PARAM, "$1[REDACTED]").replace(BEARER, "$1[REDACTED]"),
      secrets,
      KEY_FRAGMENT_LENGTH,
    );
}

/** Deeper than any error body Vast sends; what lies below is dropped, not copied unredacted. */
const MAX_DEPTH = 32;

/**
 * A copy of a parsed body with every string redacted, object keys included, at any depth (a
 * key echoed in `detail[0].input.headers.Authorization` is as much a leak as a top-level one).
 * Subtrees below `MAX_DEPTH` become "[too deep]".
 */
export function redactDeep(value: unknown, redact: Redactor, depth = 0): unknown {
  if (typeof value === "string") return redact(value);
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_DEPTH) return "[too deep]";
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, redact, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[redact(key)] = redactDeep(item, redact, depth + 1);
  return out;
}

/** `https://host/path?x=1` → `/path` (queries may hold keys or presigned signatures). */
export function pathOf(url: string): string {
  return new URL(url).pathname;
}
