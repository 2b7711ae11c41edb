/**
 * Vast.ai's notification webhooks (docs/vast-quirks.md#notification-webhooks): verified on the
 * raw bytes exactly as Vast signs them — `X-Vast-Signature-256: sha256=<hex HMAC-SHA256 of
 * "<X-Vast-Timestamp>.<body>">` with the webhook secret (or, while it is rotated, the one it
 * replaces), 300 s window,
 * constant-time comparison — then de-duplicated (delivery is at-least-once) and turned into a
 * `Reconcile Requested` event for the poller. De-duplication uses only signed material: the body's
 * `event_id`, else a SHA-256 of the signed input (`<timestamp>.<body>`), never the unsigned
 * `X-Vast-Event-Id` header, which whoever captured a delivery could change on every replay. The
 * payload names no instance, so a notification can only ask for a full reconcile; the answer must
 * come within Vast's 10 s, so nothing else is done here.
 */
import { createHash } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { publishBestEffort } from "../events";
import { verifyPayloadSignature } from "../signing";
import type { ApiDeps } from "./deps";
import { parseJsonBytes } from "./json-body";
import { ApiProblem, problems } from "./problem";

export const VAST_TIMESTAMP_HEADER = "X-Vast-Timestamp";
export const VAST_SIGNATURE_HEADER = "X-Vast-Signature-256";
export const VAST_EVENT_ID_HEADER = "X-Vast-Event-Id";

/** `recordOnce` kind for Vast event ids (and `sha256:<hex>` of the signed input when there is none). */
export const VAST_EVENT_KIND = "vast-webhook";
/** Vast retries for a while; a week covers any retry schedule worth the name. */
export const VAST_EVENT_TTL_SECONDS = 7 * 24 * 3600;
/** `Retry-After` when no secret is configured: Vast retries 5xx, so its events wait for the operator. */
export const VAST_UNCONFIGURED_RETRY_AFTER_SECONDS = 300;

const EventIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, "event ids are printable ASCII");

/** The documented payload; other fields are kept but not read. */
export const VastNotificationSchema = z
  .looseObject({
    event_id: EventIdSchema.optional(),
    user_id: z.number().optional(),
    notif_type: z.string().min(1).max(200),
    subject: z.string().optional(),
    message: z.string().optional(),
    timestamp: z.number().optional(),
  })
  .openapi("VastNotification", {
    example: {
      event_id: "7e9a2c4e6f9e4a24a53b77c2d8e3f0aa",
      user_id: 123,
      notif_type: "outbid",
      subject: "Your instance was outbid",
      message: "…",
      timestamp: 1772490000.123,
    },
  });

export type VastWebhookOutcome = "reconcile-requested" | "duplicate" | "test";

export interface VastDelivery {
  body: Uint8Array;
  timestamp: string | undefined;
  signature: string | undefined;
}

/**
 * Verifies and acts on one delivery; throws a 401/400 problem for one that must not be acted on,
 * and a 503 while the deployment has no secret to verify it with. Vast treats 4xx (but 408/429) as
 * permanent and drops the event, 5xx as retryable: a missing secret is our fault, so Vast keeps
 * the event until the operator sets one.
 */
export async function receiveVastNotification(
  deps: ApiDeps,
  delivery: VastDelivery,
): Promise<VastWebhookOutcome> {
  const credentials = await deps.credentials();
  // During a rotation both verify: Vast may still sign with the old secret for a while.
  const secrets: Record<string, string> = {};
  if (credentials.vastWebhookSecret) secrets.vast = credentials.vastWebhookSecret;
  if (credentials.vastWebhookPreviousSecret) secrets.vastPrevious = credentials.vastWebhookPreviousSecret;
  if (Object.keys(secrets).length === 0) {
    deps.logger.error(
      "a Vast webhook arrived but webhookSecrets.vast is not set; it cannot be verified (answered 503, so Vast retries)",
    );
    throw new ApiProblem({
      kind: "service-unavailable",
      status: 503,
      detail: "this deployment has no secret to verify Vast's notifications with yet; retry later",
      headers: { "retry-after": String(VAST_UNCONFIGURED_RETRY_AFTER_SECONDS) },
    });
  }
  const verdict = verifyPayloadSignature({
    secrets,
    timestamp: delivery.timestamp,
    signature: delivery.signature,
    body: delivery.body,
    nowMs: deps.clock.now(),
  });
  if (!verdict.valid) {
    throw unauthorized(
      verdict.problem === "stale"
        ? `${VAST_TIMESTAMP_HEADER} is more than 300 s away from the server's clock`
        : verdict.problem === "malformed"
          ? `send ${VAST_TIMESTAMP_HEADER} and ${VAST_SIGNATURE_HEADER} (sha256=<hex>)`
          : "the signature does not match the body",
    );
  }
  const parsed = VastNotificationSchema.safeParse(parseJsonBytes(delivery.body));
  if (!parsed.success) throw problems.malformed("the body is not a Vast notification");
  const notification = parsed.data;
  // Vast's "send a test" button: proves the endpoint and the secret, asks for nothing.
  if (notification.notif_type === "webhook_test") return "test";
  const eventId = notification.event_id ?? null;
  const dedupId = eventId ?? signedInputDigest(delivery.timestamp ?? "", delivery.body);
  if (!(await deps.store.recordOnce(VAST_EVENT_KIND, dedupId, VAST_EVENT_TTL_SECONDS))) return "duplicate";
  // Best effort: the scheduled poller reconciles every minute anyway, so a lost request only
  // delays this reconcile to the next run — while failing the delivery would make Vast resend an
  // event already recorded as seen.
  await publishBestEffort(deps, {
    detailType: "Reconcile Requested",
    detail: { trigger: "vast-webhook", eventId, notification: notification.notif_type },
  });
  return "reconcile-requested";
}

/**
 * `sha256:<hex>` of exactly what the signature covers (`<timestamp>.<raw body>`): a delivery
 * without an `event_id` is known by it. A replay of the captured delivery has the same digest
 * whatever headers it adds; a retry Vast signs anew (another timestamp) does not, and asks for one
 * more reconcile, which is harmless.
 */
function signedInputDigest(timestamp: string, body: Uint8Array): string {
  return `sha256:${createHash("sha256").update(`${timestamp}.`).update(body).digest("hex")}`;
}

/** A signature problem: no `WWW-Authenticate: Bearer` (Vast does not use API keys). */
function unauthorized(detail: string): ApiProblem {
  return new ApiProblem({ kind: "unauthorized", status: 401, detail });
}
