/**
 * Publishing a lifecycle event after the store has recorded the change: the store is the truth,
 * so a failed publish is logged and the command still succeeds.
 */
import { errorText, type Logger } from "../observability";
import type { EventPublisher, PublishedEvent } from "./job-events";

export async function publishBestEffort(
  deps: { events: EventPublisher; logger: Logger },
  event: PublishedEvent,
): Promise<void> {
  try {
    await deps.events.publish(event);
  } catch (error) {
    deps.logger.warn("event not published", {
      jobId: "jobId" in event.detail ? event.detail.jobId : null,
      detailType: event.detailType,
      error: errorText(error),
    });
  }
}
