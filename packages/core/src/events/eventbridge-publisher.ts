/** `EventPublisher` on EventBridge `PutEvents`; a partially failed put is an error. */
import { type EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { EVENT_SOURCE, type EventPublisher, type PublishedEvent, PublishedEventSchema } from "./job-events";

export interface EventBridgePublisherOptions {
  client: EventBridgeClient;
  eventBusName: string;
  source?: string;
}

export class EventPublishError extends Error {
  override readonly name = "EventPublishError";
}

export class EventBridgePublisher implements EventPublisher {
  constructor(private readonly options: EventBridgePublisherOptions) {}

  async publish(event: PublishedEvent): Promise<void> {
    const parsed = PublishedEventSchema.parse(event);
    const out = await this.options.client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.options.eventBusName,
            Source: this.options.source ?? EVENT_SOURCE,
            DetailType: parsed.detailType,
            Detail: JSON.stringify(parsed.detail),
          },
        ],
      }),
    );
    if ((out.FailedEntryCount ?? 0) > 0) {
      const entry = out.Entries?.find((e) => e.ErrorCode);
      throw new EventPublishError(
        `EventBridge refused '${parsed.detailType}': ${entry?.ErrorCode ?? "unknown"} ${entry?.ErrorMessage ?? ""}`.trim(),
      );
    }
  }
}
