import "aws-sdk-client-mock-vitest/extend";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { InMemoryJobQueue, ProvisionQueueMessageSchema, SqsJobQueue } from "../../src/queue";

const sqs = new SQSClient({ region: "us-east-1" });
const mock = mockClient(sqs);
const queue = new SqsJobQueue({
  client: sqs,
  queueUrls: { provision: "https://sqs/provision", push: "https://sqs/push" },
});

beforeEach(() => mock.reset());

describe("SqsJobQueue", () => {
  it("routes by message type and sets DelaySeconds, clamped to SQS's 900", async () => {
    mock.on(SendMessageCommand).resolves({ MessageId: "1" });
    await queue.enqueue({ type: "readiness", jobId: "j", attempt: 2, check: 3 }, { delaySeconds: 20 });
    await queue.enqueue({ type: "push", jobId: "j", attempt: 2 }, { delaySeconds: 5000 });
    await queue.enqueue({ type: "provision", jobId: "j" }, { delaySeconds: -3 });
    expect(mock).toHaveReceivedNthCommandWith(SendMessageCommand, 1, {
      QueueUrl: "https://sqs/provision",
      MessageBody: JSON.stringify({ type: "readiness", jobId: "j", attempt: 2, check: 3 }),
      DelaySeconds: 20,
    });
    expect(mock).toHaveReceivedNthCommandWith(SendMessageCommand, 2, {
      QueueUrl: "https://sqs/push",
      DelaySeconds: 900,
    });
    expect(mock).toHaveReceivedNthCommandWith(SendMessageCommand, 3, { DelaySeconds: 0 });
  });

  it("lets throttling surface so the caller's message is retried", async () => {
    const throttled = Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
    mock.on(SendMessageCommand).rejects(throttled);
    await expect(queue.enqueue({ type: "provision", jobId: "j" })).rejects.toThrow("Rate exceeded");
  });

  it("refuses to send a malformed message", async () => {
    await expect(queue.enqueue({ type: "push", jobId: "", attempt: 0 })).rejects.toThrow();
    expect(mock).not.toHaveReceivedCommand(SendMessageCommand);
  });
});

describe("queue messages", () => {
  it("parse strictly and default the check counter", () => {
    expect(ProvisionQueueMessageSchema.parse({ type: "readiness", jobId: "j", attempt: 1 })).toEqual({
      type: "readiness",
      jobId: "j",
      attempt: 1,
      check: 0,
    });
    expect(() => ProvisionQueueMessageSchema.parse({ type: "push", jobId: "j", attempt: 1 })).toThrow();
    expect(() => ProvisionQueueMessageSchema.parse({ type: "provision", jobId: "j", extra: 1 })).toThrow();
  });

  it("the in-memory queue records what was sent", async () => {
    const memory = new InMemoryJobQueue();
    await memory.enqueue({ type: "provision", jobId: "j" }, { delaySeconds: 1.2 });
    expect(memory.drain()).toEqual([
      { queue: "provision", message: { type: "provision", jobId: "j" }, delaySeconds: 2 },
    ]);
    expect(memory.sent).toEqual([]);
  });
});
