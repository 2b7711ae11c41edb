/**
 * Signed job submissions: a product backend may submit a job without an API key by signing the
 * request the way Vast signs its webhooks (one scheme for all, `../signing`):
 *
 *   X-Vast-Rental-Timestamp: <unix seconds>
 *   X-Vast-Rental-Signature-256: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body bytes>")>
 *
 * with any one of the named `submissionSecrets`. The timestamp must be within 300 s of the
 * server's clock, and each signature is accepted once (a replay within the window is a 409): a
 * sender signs every delivery anew, retries included. A submission that fails (a store or queue
 * outage, an idempotency conflict) releases its signature when a retry cannot make a second job
 * (it carries an idempotency key, or no job was stored), so the same delivery may be sent again.
 * The `Idempotency-Key` header is not signed: a signed submission carries its key in the body.
 */
import { DEFAULT_SIGNATURE_TOLERANCE_SECONDS, verifyPayloadSignature } from "../signing";
import { MIN_CREDENTIAL_LENGTH } from "./deps";

export const SUBMISSION_TIMESTAMP_HEADER = "X-Vast-Rental-Timestamp";
export const SUBMISSION_SIGNATURE_HEADER = "X-Vast-Rental-Signature-256";

/** `recordOnce` kind for accepted signatures. */
export const SUBMISSION_REPLAY_KIND = "api-signed-submission";
/** Kept past both edges of the window, so a signature cannot come back once its record expired. */
export const SUBMISSION_REPLAY_TTL_SECONDS = 3 * DEFAULT_SIGNATURE_TOLERANCE_SECONDS;

export type SubmissionVerdict = { valid: true; secretName: string } | { valid: false; reason: string };

export function verifySubmissionSignature(input: {
  secrets: Readonly<Record<string, string>>;
  timestamp: string | undefined;
  signature: string | undefined;
  body: Uint8Array;
  nowMs: number;
}): SubmissionVerdict {
  const usable = Object.fromEntries(
    Object.entries(input.secrets).filter(([, secret]) => secret.length >= MIN_CREDENTIAL_LENGTH),
  );
  const verdict = verifyPayloadSignature({ ...input, secrets: usable });
  if (verdict.valid) return { valid: true, secretName: verdict.secretName };
  switch (verdict.problem) {
    case "malformed":
      return {
        valid: false,
        reason: `send both ${SUBMISSION_TIMESTAMP_HEADER} (unix seconds) and ${SUBMISSION_SIGNATURE_HEADER} (sha256=<hex>)`,
      };
    case "stale":
      return {
        valid: false,
        reason: `the signed timestamp is more than ${DEFAULT_SIGNATURE_TOLERANCE_SECONDS} s away from the server's clock`,
      };
    case "mismatch":
      return { valid: false, reason: "the signature does not match the body with any submission secret" };
  }
}
