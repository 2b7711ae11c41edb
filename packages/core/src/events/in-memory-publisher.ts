/** `EventPublisher` that records events, for tests. */
import { type EventPublisher, type JobLifecycleEvent, JobLifecycleEventSchema } from "./job-events";

export class InMemoryEventPublisher implements EventPublisher {
  readonly events: JobLifecycleEvent[] = [];

  async publish(event: JobLifecycleEvent): Promise<void> {
    this.events.push(JobLifecycleEventSchema.parse(event));
  }
}
