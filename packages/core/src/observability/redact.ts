/**
 * Secret redaction. Secrets must never reach logs, errors, events or responses; every
 * component that holds one registers it here so that text built from untrusted places
 * (error bodies, URLs, stack traces) can be scrubbed before it leaves.
 */
const REDACTED = "[REDACTED]";

/** Replaces every occurrence of each secret (ignoring ones shorter than 4 chars) in `text`. */
export function redactSecrets(text: string, secrets: Iterable<string | undefined | null>): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret || secret.length < 4) continue;
    out = out.split(secret).join(REDACTED);
  }
  return out;
}

/** Keys whose values are always redacted when an object is logged. */
const SECRET_KEY = /(api[_-]?key|authorization|secret|password|private[_-]?key|token|signature)/i;

/** Deep-copies `value`, replacing values under secret-looking keys and any known secret text. */
export function redactObject<T>(value: T, secrets: Iterable<string | undefined | null> = []): T {
  const list = [...secrets];
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > 8) return v;
    if (typeof v === "string") return redactSecrets(v, list);
    if (Array.isArray(v)) return v.map((item) => walk(item, depth + 1));
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(v)) {
        out[key] = SECRET_KEY.test(key) && item != null && item !== "" ? REDACTED : walk(item, depth + 1);
      }
      return out;
    }
    return v;
  };
  return walk(value, 0) as T;
}

export { REDACTED };
