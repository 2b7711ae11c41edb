/**
 * One signing scheme for every webhook the system sends or receives — Vast's notification
 * webhooks use it, and so do our callbacks and signed job submissions: `sha256=` + hex
 * HMAC-SHA256 over `<unix seconds>.<raw body bytes>`, the timestamp sent beside it, a 5-minute
 * window, compared in constant time. The raw bytes, never re-serialised JSON — and the timestamp
 * header exactly as received, never re-formatted: `01772490000` is not `1772490000`.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_PREFIX = "sha256=";
/** How far a signed timestamp may be from now, either way. */
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * `timestamp` is what goes in the timestamp header: unix seconds, or (when verifying) the header's
 * text as received, so the MAC covers the very string the sender sent.
 */
export function signPayload(secret: string, timestamp: number | string, body: string | Uint8Array): string {
  const mac = createHmac("sha256", secret).update(`${timestamp}.`).update(body);
  return `${SIGNATURE_PREFIX}${mac.digest("hex")}`;
}

export type SignatureVerdict =
  | { valid: true; secretName: string }
  | { valid: false; problem: "malformed" | "stale" | "mismatch" };

export interface VerifySignatureInput {
  /** Named secrets; any may have signed (several senders, or a secret being rotated). */
  secrets: Readonly<Record<string, string>>;
  /** The timestamp header as received: digits only; signed over as is, parsed for the window. */
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
  const seconds = Number.parseInt(timestamp, 10);
  const tolerance = input.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
  if (Math.abs(input.nowMs / 1000 - seconds) > tolerance) return { valid: false, problem: "stale" };
  const given = Buffer.from(signature, "utf8");
  for (const [name, secret] of Object.entries(input.secrets)) {
    const expected = Buffer.from(signPayload(secret, timestamp, input.body), "utf8");
    if (expected.length === given.length && timingSafeEqual(expected, given))
      return { valid: true, secretName: name };
  }
  return { valid: false, problem: "mismatch" };
}
