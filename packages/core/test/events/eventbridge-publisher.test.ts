import "aws-sdk-client-mock-vitest/extend";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { EventBridgePublisher, EventPublishError, type JobLifecycleEvent } from "../../src/events";

const client = new EventBridgeClient({ region: "us-east-1" });
const mock = mockClient(client);
const publisher = new EventBridgePublisher({ client, eventBusName: "bus" });
const event: JobLifecycleEvent = {
  detailType: "Job State Changed",
  detail: { jobId: "j", from: "booting", to: "pushing", reason: "ready", attempt: 1, spentUsd: 0 },
};

beforeEach(() => mock.reset());

describe("EventBridgePublisher", () => {
  it("puts one entry on the bus with our source", async () => {
    mock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: "1" }] });
    await publisher.publish(event);
    expect(mock).toHaveReceivedCommandWith(PutEventsCommand, {
      Entries: [
        {
          EventBusName: "bus",
          Source: "vast-rental",
          DetailType: "Job State Changed",
          Detail: JSON.stringify(event.detail),
        },
      ],
    });
  });

  it("treats a partially failed put (throttled entry) as an error", async () => {
    mock.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: "ThrottlingException", ErrorMessage: "Rate exceeded" }],
    });
    await expect(publisher.publish(event)).rejects.toThrow(EventPublishError);
    await expect(publisher.publish(event)).rejects.toThrow("ThrottlingException Rate exceeded");
  });
});
