/**
 * A `CallbackSender` that records what it was asked to deliver (and can answer `retry` for the
 * first tries), for tests that check which lifecycle events reach a job's callback URL.
 */
import type { CallbackDelivery, CallbackOutcome, CallbackSender } from "../../packages/core/src/callbacks";

export class RecordingCallbacks implements CallbackSender {
  readonly sent: { url: string; delivery: CallbackDelivery }[] = [];

  async send(url: string, delivery: CallbackDelivery): Promise<CallbackOutcome> {
    this.sent.push({ url, delivery });
    return "delivered";
  }

  /** The events delivered, in order: detail type and detail. */
  events(): CallbackDelivery["event"][] {
    return this.sent.map((s) => s.delivery.event);
  }

  of<T extends CallbackDelivery["event"]["detailType"]>(type: T) {
    return this.events()
      .filter((e) => e.detailType === type)
      .map((e) => e.detail as Extract<CallbackDelivery["event"], { detailType: T }>["detail"]);
  }
}
