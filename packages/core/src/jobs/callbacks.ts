/**
 * The callback step (provision queue): one try at delivering a job's signed callback. A receiver
 * that answers 408, 429 or 5xx — or cannot be reached — is tried again after 5 s, 15 s, 45 s, …
 * (at most 15 minutes apart), by re-queueing the same delivery (same id) with a delay, until the
 * event is an hour old; a receiver that refuses it (another 4xx) is not asked again.
 */
import type { CallbackMessage } from "../queue";
import { CallbackMessageSchema } from "../queue";
import { type JobDeps, settingsOf } from "./deps";

export type CallbackStepOutcome = "delivered" | "rejected" | "retrying" | "expired" | "not_configured";

export async function deliverCallback(deps: JobDeps, input: CallbackMessage): Promise<CallbackStepOutcome> {
  const message = CallbackMessageSchema.parse(input);
  if (!deps.callbacks) {
    deps.logger.warn("callback dropped: no callback signing secret is configured", { jobId: message.jobId });
    return "not_configured";
  }
  const settings = settingsOf(deps).callbacks;
  const outcome = await deps.callbacks.send(message.url, message.delivery);
  if (outcome !== "retry") return outcome;
  if (deps.clock.now() - message.delivery.occurredAt >= settings.maxAgeMs) {
    deps.logger.warn("callback given up", {
      jobId: message.jobId,
      deliveryId: message.delivery.deliveryId,
      tries: message.attempt,
    });
    return "expired";
  }
  await deps.queue.enqueue(
    { ...message, attempt: message.attempt + 1 },
    { delaySeconds: Math.min(900, settings.firstRetrySeconds * 3 ** (message.attempt - 1)) },
  );
  return "retrying";
}
