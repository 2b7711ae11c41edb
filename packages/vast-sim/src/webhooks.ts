/**
 * Vast's notification webhooks (docs/vast-quirks.md#notification-webhooks): a signed JSON `POST` per event
 * (outbid, offline, back online, error detected) with `X-Vast-Event-Id`,
 * `X-Vast-Delivery-Attempt`, `X-Vast-Timestamp` and `X-Vast-Signature-256` =
 * `sha256=` + hex HMAC-SHA256 of `<timestamp>.<raw body>`. Like Vast, the payload names no
 * instance. Retried on 408, 429, 5xx and network errors; other 4xx/3xx are permanent failures.
 */
import { createHmac, randomBytes } from "node:crypto";
import type { Logger } from "@vast-rental/core";
import type { InstanceEvent, SimState } from "./state";

export interface WebhookTarget {
  url: string;
  secret: string;
  /** Attempts per event; default 3. */
  maxAttempts?: number;
  /** Real ms between attempts; default 200. */
  retryDelayMs?: number;
}

const EVENTS: Record<InstanceEvent["type"], { slug: string; subject: string; message: string }> = {
  outbid: {
    slug: "outbid",
    subject: "Your Vast.ai instance was outbid",
    message: "One of your interruptible instances was outbid and has been paused.",
  },
  offline: {
    slug: "instance_offline",
    subject: "Your Vast.ai instance is offline",
    message: "The host of one of your instances went offline.",
  },
  online: {
    slug: "instance_online",
    subject: "Your Vast.ai instance is back online",
    message: "The host of one of your instances is back online.",
  },
  error: {
    slug: "instance_error",
    subject: "An error was detected on your Vast.ai instance",
    message: "One of your instances reported an error.",
  },
};

export function signWebhook(secret: string, timestamp: number, rawBody: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${rawBody}`).digest("hex")}`;
}

export function startWebhookSender(state: SimState, target: WebhookTarget, logger: Logger) {
  let stopped = false;
  const deliver = async (e: InstanceEvent) => {
    const def = EVENTS[e.type];
    const eventId = randomBytes(16).toString("hex");
    const nowMs = state.clock.now();
    const body = JSON.stringify({
      event_id: eventId,
      user_id: state.options.userId,
      notif_type: def.slug,
      subject: def.subject,
      message: def.message,
      timestamp: nowMs / 1000,
    });
    const attempts = target.maxAttempts ?? 3;
    for (let attempt = 1; attempt <= attempts && !stopped; attempt++) {
      const timestamp = Math.floor(nowMs / 1000);
      try {
        const res = await fetch(target.url, {
          method: "POST",
          body,
          headers: {
            "content-type": "application/json",
            "X-Vast-Event-Id": eventId,
            "X-Vast-Delivery-Attempt": String(attempt),
            "X-Vast-Timestamp": String(timestamp),
            "X-Vast-Signature-256": signWebhook(target.secret, timestamp, body),
          },
          signal: AbortSignal.timeout(10_000),
        });
        if (res.ok) return;
        if (res.status !== 408 && res.status !== 429 && res.status < 500) {
          logger.warn("webhook rejected", { status: res.status, eventId });
          return;
        }
      } catch (err) {
        logger.debug("webhook delivery failed", { error: String(err), eventId });
      }
      await state.clock.realSleep(target.retryDelayMs ?? 200);
    }
  };
  const listener = (e: InstanceEvent) => {
    void deliver(e);
  };
  state.listeners.push(listener);
  return {
    stop: () => {
      stopped = true;
      state.listeners = state.listeners.filter((l) => l !== listener);
    },
  };
}
