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

/**
 * Replaces every run of `minLength` or more characters that also occurs in one of the secrets.
 * Exact matching misses a secret cut short (a message truncated mid-key) or split in pieces;
 * any `minLength`-long piece of a secret is still too much of it to let out. The cost is a
 * false positive only where text shares `minLength` characters in a row with a secret.
 */
export function redactSecretFragments(
  text: string,
  secrets: Iterable<string | undefined | null>,
  minLength = 8,
): string {
  const covered = new Uint8Array(text.length);
  let any = false;
  for (const secret of secrets) {
    if (!secret || secret.length < minLength) continue;
    // Every run of >= minLength shared characters is a union of minLength-long windows of the secret.
    for (let start = 0; start + minLength <= secret.length; start++) {
      const window = secret.slice(start, start + minLength);
      for (let at = text.indexOf(window); at !== -1; at = text.indexOf(window, at + 1)) {
        covered.fill(1, at, at + minLength);
        any = true;
      }
    }
  }
  if (!any) return text;
  let out = "";
  for (let i = 0; i < text.length; i++) {
    if (!covered[i]) out += text[i];
    else if (i === 0 || !covered[i - 1]) out += REDACTED;
  }
  return out;
}

/** Keys whose values are always redacted when an object is logged. */
const SECRET_KEY = /(api[_-]?key|authorization|secret|password|private[_-]?key|token|signature)/i;

/** Deep-copies `value`, replacing values under secret-looking keys and any known secret text. */
export function redactObject<T>(value: T, secrets: Iterable<string | undefined | null> = []): T {
  const list = [...secrets];
  const walk = (v: unknown, depth: number): unknown => {
    // Deeper than anything we build: refuse to pass it on rather than pass it on unread.
    if (depth > 32) return "[too deep]";
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
