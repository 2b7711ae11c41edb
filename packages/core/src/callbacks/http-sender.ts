/**
 * `CallbackSender` over HTTPS: one signed `POST` per try, through the outbound guard (every
 * request checked against the resolved address; redirects are not followed — a receiver answers
 * at the URL it registered). 2xx = delivered; 408, 429, 5xx, timeouts and network errors = try
 * again later; anything else (and a URL the guard refuses) = rejected for good.
 *
 * Each try has an overall deadline (`deadlineMs`, default 10 s) from DNS lookup to status line:
 * the socket's idle timeout alone lets a receiver that trickles its headers a byte at a time hold
 * the provision Lambda (and the batch it is in) for as long as it likes. Only the status matters,
 * so the response is destroyed as soon as it arrives; its body is never read.
 */
import type { Agent } from "node:http";
import { request } from "node:https";
import type { Clock } from "../clock";
import { DEPLOYMENT } from "../deployment/settings";
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
  /** How long the socket may sit idle within a try, default 5 s. */
  timeoutMs?: number;
  /**
   * The whole try — lookup, connect, TLS, request, status line — default
   * `DEFAULT_CALLBACK_DEADLINE_MS` (10 s). Past it the request is destroyed and the try is
   * retried later, like a network error.
   */
  deadlineMs?: number;
  clock: Clock;
  logger?: Logger;
}

/** Default overall deadline of one callback try: what the provision function allows one
 * (`DEPLOYMENT.stepDeadlines`). */
export const DEFAULT_CALLBACK_DEADLINE_MS = DEPLOYMENT.stepDeadlines.callbackTrySeconds * 1000;

/** A try that had no status line by its deadline; retried like a network error. */
export class CallbackDeadlineError extends Error {
  override readonly name = "CallbackDeadlineError";
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
    const deadlineMs = this.options.deadlineMs ?? DEFAULT_CALLBACK_DEADLINE_MS;
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
          clearTimeout(deadline);
          resolve(response.statusCode ?? 0);
          // The status is all we wanted: do not wait on (or read) a body the receiver may trickle.
          response.destroy();
        },
      );
      const deadline = setTimeout(
        () => req.destroy(new CallbackDeadlineError(`callback had no answer within ${deadlineMs} ms`)),
        deadlineMs,
      );
      req.on("timeout", () => req.destroy(new Error("callback timed out")));
      req.on("error", (error) => {
        clearTimeout(deadline);
        reject(error);
      });
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
