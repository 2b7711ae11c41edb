/**
 * `CallbackSender` over HTTPS: one signed `POST` per try, through the outbound guard (every
 * request checked against the resolved address; redirects are not followed — a receiver answers
 * at the URL it registered). 2xx = delivered; 408, 429, 5xx, timeouts and network errors = try
 * again later; anything else (and a URL the guard refuses) = rejected for good.
 */
import type { Agent } from "node:http";
import { request } from "node:https";
import type { Clock } from "../clock";
import {
  checkOutboundUrl,
  type LookupFunction,
  type OutboundPolicy,
  OutboundRequestRefusedError,
  outboundRequestOptions,
} from "../net";
import { type Logger, silentLogger } from "../observability";
import { signPayload } from "../signing";
import {
  CALLBACK_HEADERS,
  type CallbackDelivery,
  type CallbackOutcome,
  type CallbackSender,
  callbackBody,
} from "./delivery";

export interface HttpCallbackSenderOptions {
  /** Signs every request (`webhookSecrets.callbacks` in the secret). */
  secret: string;
  /** Which private hosts may be called (tests, the local stack); default none. */
  policy?: OutboundPolicy;
  /** An agent of one's own (a test CA); the guard still applies. */
  agent?: Agent;
  /** Per try, default 5 s. */
  timeoutMs?: number;
  clock: Clock;
  logger?: Logger;
}

export class HttpCallbackSender implements CallbackSender {
  constructor(private readonly options: HttpCallbackSenderOptions) {}

  async send(url: string, delivery: CallbackDelivery): Promise<CallbackOutcome> {
    const logger = this.options.logger ?? silentLogger;
    // Only the origin is logged: a callback URL may carry a token in its path or query.
    const where = safeOrigin(url);
    const { agent, policy, lookup } = outboundRequestOptions({
      agent: this.options.agent,
      policy: this.options.policy,
    });
    try {
      checkOutboundUrl(url, policy);
      const status = await this.post(url, delivery, { agent, lookup });
      const outcome: CallbackOutcome =
        status >= 200 && status < 300
          ? "delivered"
          : status === 408 || status === 429 || status >= 500
            ? "retry"
            : "rejected";
      logger.info("callback answered", { callback: where, status, outcome, deliveryId: delivery.deliveryId });
      return outcome;
    } catch (error) {
      if (error instanceof OutboundRequestRefusedError) {
        logger.warn("callback refused by the outbound policy", { callback: where, rule: error.rule });
        return "rejected";
      }
      logger.warn("callback failed", {
        callback: where,
        deliveryId: delivery.deliveryId,
        error: error instanceof Error ? error.name : "unknown error",
      });
      return "retry";
    }
  }

  private post(
    url: string,
    delivery: CallbackDelivery,
    transport: { agent: Agent | undefined; lookup: LookupFunction },
  ): Promise<number> {
    const body = callbackBody(delivery);
    const timestamp = Math.floor(this.options.clock.now() / 1000);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: "POST",
          agent: transport.agent,
          lookup: transport.lookup,
          timeout: this.options.timeoutMs ?? 5_000,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            [CALLBACK_HEADERS.deliveryId]: delivery.deliveryId,
            [CALLBACK_HEADERS.event]: delivery.event.detailType,
            [CALLBACK_HEADERS.timestamp]: String(timestamp),
            [CALLBACK_HEADERS.signature]: signPayload(this.options.secret, timestamp, body),
          },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      req.on("timeout", () => req.destroy(new Error("callback timed out")));
      req.on("error", reject);
      req.end(body);
    });
  }
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid url)";
  }
}
