/**
 * API keys: `Authorization: Bearer <key>`, matched against every named key in the secret. Both
 * sides are hashed before the constant-time comparison, so neither a key's content nor its
 * length shows in the response time, and every key is compared (no early exit) so the time does
 * not tell which one came close. Only the matching key's name is ever kept or logged.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { MIN_CREDENTIAL_LENGTH } from "./deps";

/** Longer headers are refused unread: no key is this long, and hashing them would be free work. */
const MAX_AUTHORIZATION_LENGTH = 1024;

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();

/** The token of a `Bearer` authorization header, or null when the header has another form. */
export function bearerToken(header: string | undefined): string | null {
  if (!header || header.length > MAX_AUTHORIZATION_LENGTH) return null;
  const match = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i.exec(header);
  return match?.[1] ?? null;
}

/** The name of the key `token` is, or null. Keys shorter than `MIN_CREDENTIAL_LENGTH` never match. */
export function matchApiKey(token: string, apiKeys: Readonly<Record<string, string>>): string | null {
  const given = digest(token);
  let matched: string | null = null;
  for (const [name, key] of Object.entries(apiKeys)) {
    const equal = timingSafeEqual(given, digest(key));
    if (equal && key.length >= MIN_CREDENTIAL_LENGTH && matched === null) matched = name;
  }
  return matched;
}
