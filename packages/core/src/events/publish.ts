/**
 * Publishing a lifecycle event after the store has recorded the change: the store is the truth,
 * so a failed publish is logged and the command still succeeds.
 */
import { errorText, type Logger } from "../observability";
import type { EventPublisher, JobLifecycleEvent } from "./job-events";

export async function publishBestEffort(
  deps: { events: EventPublisher; logger: Logger },
  event: JobLifecycleEvent,
): Promise<void> {
  try {
    await deps.events.publish(event);
  } catch (error) {
    deps.logger.warn("job event not published", {
      jobId: event.detail.jobId,
      detailType: event.detailType,
      error: errorText(error),
    });
  }
}
