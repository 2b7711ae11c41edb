/**
 * Telling the world about a job: every lifecycle event goes on the bus (best effort — the store
 * is the truth), and, when the job has a `callbackUrl`, becomes a signed callback delivery queued
 * for the callback step (retried there). Its delivery id is derived from the event's occurrence,
 * so announcing the same thing twice (a step's retry) gives the receiver the same id to discard.
 */
import { type CallbackSender, callbackDeliveryId } from "../callbacks";
import type { Clock } from "../clock";
import { type EventPublisher, type JobLifecycleEvent, publishBestEffort } from "../events";
import { errorText, type Logger } from "../observability";
import type { JobQueue } from "../queue";
import type { JobRecord } from "../store";

export interface AnnounceDeps {
  events: EventPublisher;
  queue: JobQueue;
  clock: Clock;
  logger: Logger;
  /** Present when callbacks are configured (a signing secret exists). */
  callbacks?: CallbackSender;
}

export async function announce(
  deps: AnnounceDeps,
  job: Pick<JobRecord, "jobId" | "request">,
  event: JobLifecycleEvent,
  /** What makes this event unique within the job (a version, an instance id, "final"). */
  occurrence: string,
): Promise<void> {
  await publishBestEffort(deps, event);
  const url = job.request.callbackUrl;
  if (!url || !deps.callbacks) return;
  try {
    await deps.queue.enqueue({
      type: "callback",
      jobId: job.jobId,
      url,
      delivery: {
        deliveryId: callbackDeliveryId(job.jobId, event.detailType, occurrence),
        occurredAt: deps.clock.now(),
        event,
      },
      attempt: 1,
    });
  } catch (error) {
    deps.logger.warn("callback not queued", {
      jobId: job.jobId,
      detailType: event.detailType,
      error: errorText(error),
    });
  }
}
