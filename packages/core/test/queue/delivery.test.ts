/**
 * A delivery as the steps see it, read off a real SQS message (fauxqs): which delivery is the
 * queue's last, the deadline signal, and a short retry through ChangeMessageVisibility.
 */
import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalSqs, startLocalSqs } from "../../../../test/support/fauxqs";
import { MAX_DELIVERIES, retryDelaySeconds, SqsJobQueue, sqsDelivery } from "../../src/queue";

let sqs: LocalSqs;
beforeAll(async () => {
  sqs = await startLocalSqs();
});
afterAll(async () => {
  await sqs?.stop();
});

const record = (receiveCount: string | undefined) => ({
  messageId: "m-1",
  receiptHandle: "rh",
  attributes: receiveCount === undefined ? {} : { ApproximateReceiveCount: receiveCount },
});

describe("sqsDelivery", () => {
  it("knows the queue's last delivery from its redrive count", () => {
    const jobQueue = new SqsJobQueue({ client: sqs.client, queueUrls: { provision: "x", push: "y" } });
    const at = (queue: "provision" | "push", count: string | undefined) =>
      sqsDelivery({ queue, record: record(count), jobQueue });
    expect(MAX_DELIVERIES).toEqual({ provision: 5, push: 3 });
    expect([1, 2, 3].map((n) => at("push", String(n)).isLast)).toEqual([false, false, true]);
    expect([4, 5, 6].map((n) => at("provision", String(n)).isLast)).toEqual([false, true, true]);
    // A missing or garbled count reads as a first delivery, never as the last.
    expect(at("push", undefined)).toMatchObject({ receiveCount: 1, isLast: false, messageId: "m-1" });
    expect(at("push", "n/a")).toMatchObject({ receiveCount: 1, isLast: false });
  });

  it("fires its signal the teardown margin before Lambda's deadline, and never without one", async () => {
    const jobQueue = new SqsJobQueue({ client: sqs.client, queueUrls: { provision: "x", push: "y" } });
    const timed = sqsDelivery({
      queue: "push",
      record: record("1"),
      jobQueue,
      remainingTimeMs: 1_050,
      teardownMarginMs: 1_000,
    });
    const open = sqsDelivery({ queue: "push", record: record("1"), jobQueue });
    expect(timed.signal.aborted).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(timed.signal.aborted).toBe(true);
    expect(open.signal.aborted).toBe(false);
  });

  it("asks for the next delivery after a short delay instead of the queue's whole visibility timeout", async () => {
    const { url } = sqs.createQueue("delivery", { VisibilityTimeout: "600" });
    const jobQueue = new SqsJobQueue({ client: sqs.client, queueUrls: { provision: url, push: url } });
    await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: "{}" }));
    const receive = () =>
      sqs.client.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ["All"],
        }),
      );
    const [message] = (await receive()).Messages ?? [];
    if (!message?.ReceiptHandle) throw new Error("no message");
    const delivery = sqsDelivery({
      queue: "provision",
      record: { messageId: message.MessageId ?? "", receiptHandle: message.ReceiptHandle, attributes: {} },
      jobQueue,
    });
    await delivery.retryIn(1);
    expect((await receive()).Messages ?? []).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const again = (await receive()).Messages ?? [];
    expect(again).toHaveLength(1);
    expect(again[0]?.Attributes?.ApproximateReceiveCount).toBe("2");
    // A stale receipt handle is not the step's problem: the retry only comes later.
    await expect(
      sqsDelivery({ queue: "push", record: record("1"), jobQueue }).retryIn(5),
    ).resolves.toBeUndefined();
  });

  it("backs off 10 s, 20 s, 40 s... up to five minutes", () => {
    expect([1, 2, 3, 4, 5, 6, 9].map(retryDelaySeconds)).toEqual([10, 20, 40, 80, 160, 300, 300]);
  });
});
