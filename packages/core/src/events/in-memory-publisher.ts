/** `EventPublisher` that records events, for tests. */
import { type EventPublisher, type PublishedEvent, PublishedEventSchema } from "./job-events";

type DetailOf<T extends PublishedEvent["detailType"]> = Extract<PublishedEvent, { detailType: T }>["detail"];

export class InMemoryEventPublisher implements EventPublisher {
  readonly events: PublishedEvent[] = [];

  async publish(event: PublishedEvent): Promise<void> {
    this.events.push(PublishedEventSchema.parse(event));
  }

  /** The published events of one type, their details only. */
  of<T extends PublishedEvent["detailType"]>(type: T): DetailOf<T>[] {
    return this.events.filter((e) => e.detailType === type).map((e) => e.detail as DetailOf<T>);
  }
}
