/**
 * One signing scheme for every webhook the system sends or receives — Vast's notification
 * webhooks use it, and so do our callbacks and signed job submissions: `sha256=` + hex
 * HMAC-SHA256 over `<unix seconds>.<raw body bytes>`, the timestamp sent beside it, a 5-minute
 * window, compared in constant time. The raw bytes, never re-serialised JSON.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_PREFIX = "sha256=";
/** How far a signed timestamp may be from now, either way. */
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

export function signPayload(secret: string, timestampSeconds: number, body: string | Uint8Array): string {
  const mac = createHmac("sha256", secret).update(`${timestampSeconds}.`).update(body);
  return `${SIGNATURE_PREFIX}${mac.digest("hex")}`;
}

export type SignatureVerdict =
  | { valid: true; secretName: string }
  | { valid: false; problem: "malformed" | "stale" | "mismatch" };

export interface VerifySignatureInput {
  /** Named secrets; any may have signed (several senders, or a secret being rotated). */
  secrets: Readonly<Record<string, string>>;
  /** The timestamp header as received. */
  timestamp: string | null | undefined;
  /** The signature header as received. */
  signature: string | null | undefined;
  body: string | Uint8Array;
  nowMs: number;
  toleranceSeconds?: number;
}

export function verifyPayloadSignature(input: VerifySignatureInput): SignatureVerdict {
  const { timestamp, signature } = input;
  if (!timestamp || !/^\d{1,12}$/.test(timestamp) || !signature?.startsWith(SIGNATURE_PREFIX)) {
    return { valid: false, problem: "malformed" };
  }
  const seconds = Number(timestamp);
  const tolerance = input.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
  if (Math.abs(input.nowMs / 1000 - seconds) > tolerance) return { valid: false, problem: "stale" };
  const given = Buffer.from(signature, "utf8");
  for (const [name, secret] of Object.entries(input.secrets)) {
    const expected = Buffer.from(signPayload(secret, seconds, input.body), "utf8");
    if (expected.length === given.length && timingSafeEqual(expected, given))
      return { valid: true, secretName: name };
  }
  return { valid: false, problem: "mismatch" };
}
