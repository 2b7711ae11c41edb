/**
 * What a job's `callbackUrl` receives: each lifecycle event of the job (the same events the bus
 * gets), signed, with a delivery id that stays the same across retries — and is derived from the
 * event itself, so announcing the same event twice yields one delivery id a receiver can de-duplicate.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { JobLifecycleEventSchema } from "../events";

/** The headers of a callback request (see README "Callbacks" for verifying them). */
export const CALLBACK_HEADERS = {
  deliveryId: "X-Vast-Rental-Delivery",
  event: "X-Vast-Rental-Event",
  timestamp: "X-Vast-Rental-Timestamp",
  signature: "X-Vast-Rental-Signature-256",
} as const;

export const CallbackDeliverySchema = z.object({
  deliveryId: z.string().regex(/^[0-9a-f]{32}$/),
  /** Epoch ms of the event (the first try; retries keep it). */
  occurredAt: z.number(),
  event: JobLifecycleEventSchema,
});
export type CallbackDelivery = z.infer<typeof CallbackDeliverySchema>;

/** The body a receiver gets. */
export function callbackBody(delivery: CallbackDelivery): string {
  return JSON.stringify({
    deliveryId: delivery.deliveryId,
    type: delivery.event.detailType,
    occurredAt: new Date(delivery.occurredAt).toISOString(),
    detail: delivery.event.detail,
  });
}

/** A delivery id stable for the same event of the same job (`occurrence` tells repeats apart). */
export function callbackDeliveryId(jobId: string, type: string, occurrence: string): string {
  return createHash("sha256").update(`${jobId}\u0000${type}\u0000${occurrence}`).digest("hex").slice(0, 32);
}

/** How a delivery went: `retry` for 408, 429, 5xx and network errors; `rejected` otherwise. */
export type CallbackOutcome = "delivered" | "retry" | "rejected";

export interface CallbackSender {
  send(url: string, delivery: CallbackDelivery): Promise<CallbackOutcome>;
}
