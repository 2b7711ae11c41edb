/**
 * The local event source mapping against real (fauxqs) queues declared as the stack declares them:
 * a partial batch failure leaves only the failed record to come back after the visibility timeout,
 * with `ApproximateReceiveCount` 2 in its SQS record; a record that always fails goes to the DLQ
 * after `maxReceiveCount` deliveries; an invocation past its timeout fails its batch; and `stop`
 * waits for an invocation in flight (up to its grace) without waiting out a long poll.
 */
import { createHash } from "node:crypto";
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import { silentLogger } from "@vast-rental/core";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pollUntil } from "../../../test/support/poll";
import { type LocalAws, type LocalQueue, startLocalAws } from "../src/fauxqs";
import { type QueueWorker, type QueueWorkerOptions, startQueueWorker } from "../src/queue-worker";

const VISIBILITY_SECONDS = 1;

let aws: LocalAws;
const workers: QueueWorker[] = [];
/** Handlers a test left hanging, released after it so nothing outlives the test. */
const hanging: (() => void)[] = [];

beforeEach(async () => {
  aws = await startLocalAws({
    port: 0,
    queues: {
      provision: { visibilityTimeoutSeconds: VISIBILITY_SECONDS, maxReceiveCount: 3 },
      push: { visibilityTimeoutSeconds: VISIBILITY_SECONDS, maxReceiveCount: 2 },
    },
    buckets: { datasets: "datasets", artifacts: "artifacts" },
  });
});

afterEach(async () => {
  for (const release of hanging.splice(0)) release();
  await Promise.all(workers.splice(0).map((w) => w.stop(1000)));
  await aws.stop();
});

type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

function worker(queue: LocalQueue, handler: Handler, options: Partial<QueueWorkerOptions> = {}): QueueWorker {
  const started = startQueueWorker({
    functionName: "provision",
    client: aws.sqs,
    queue,
    handler,
    batchSize: 10,
    concurrency: 1,
    timeoutMs: 5000,
    waitSeconds: 1,
    logger: silentLogger,
    ...options,
  });
  workers.push(started);
  return started;
}

/** Messages waiting plus messages received and not yet deleted. */
async function messagesIn(queue: LocalQueue): Promise<number> {
  const { Attributes } = await aws.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queue.url,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

const untilEmpty = (queue: LocalQueue) =>
  pollUntil(async () => ((await messagesIn(queue)) === 0 ? true : undefined), 10_000, 50);

/** A promise the test resolves when it chooses, released after the test in any case. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = () => {};
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  hanging.push(open);
  return { wait, open };
}

describe("the local queue worker", () => {
  it("on a partial batch failure, deletes the record that succeeded and gets the failed one back after the visibility timeout with ApproximateReceiveCount 2", async () => {
    const queue = aws.queues.provision;
    await aws.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: [
          { Id: "a", MessageBody: "succeeds" },
          { Id: "b", MessageBody: "fails-once" },
        ],
      }),
    );
    const invocations: { event: SQSEvent; at: number; remainingMs: number; functionName: string }[] = [];
    const started = worker(queue, async (event, context) => {
      invocations.push({
        event,
        at: Date.now(),
        remainingMs: context.getRemainingTimeInMillis(),
        functionName: context.functionName,
      });
      return {
        batchItemFailures: event.Records.filter(
          (r) => r.body === "fails-once" && r.attributes.ApproximateReceiveCount === "1",
        ).map((r) => ({ itemIdentifier: r.messageId })),
      };
    });

    expect(await pollUntil(async () => (invocations.length >= 2 ? true : undefined), 10_000, 50)).toBe(true);
    expect(await untilEmpty(queue)).toBe(true);
    expect(invocations).toHaveLength(2);

    // First invocation: both messages in one batch, as Lambda's SQS records.
    const [first, second] = invocations as [(typeof invocations)[0], (typeof invocations)[0]];
    expect(first.event.Records.map((r) => r.body).sort()).toEqual(["fails-once", "succeeds"]);
    for (const record of first.event.Records) {
      expect(record).toMatchObject({
        eventSource: "aws:sqs",
        eventSourceARN: queue.arn,
        awsRegion: "us-east-1",
        md5OfBody: createHash("md5").update(record.body).digest("hex"),
        attributes: { ApproximateReceiveCount: "1" },
      });
      expect(record.receiptHandle).not.toBe("");
      expect(Number(record.attributes.SentTimestamp)).toBeGreaterThan(0);
      expect(Number(record.attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThan(0);
    }
    expect(first.functionName).toBe("provision");
    expect(first.remainingMs).toBeGreaterThan(0);
    expect(first.remainingMs).toBeLessThanOrEqual(5000);

    // Second: only the failed one, the same message, delivered a second time after the timeout.
    const failed = first.event.Records.find((r) => r.body === "fails-once")!;
    expect(second.event.Records).toHaveLength(1);
    const again = second.event.Records[0]!;
    expect(again.messageId).toBe(failed.messageId);
    expect(again.attributes.ApproximateReceiveCount).toBe("2");
    expect(again.receiptHandle).not.toBe(failed.receiptHandle);
    expect(second.at - first.at).toBeGreaterThanOrEqual(VISIBILITY_SECONDS * 1000 - 100);

    expect(started.stats).toEqual({ invocations: 2, records: 3, failedRecords: 1, duplicates: 0 });
  });

  it("sends a record that always fails to the dead-letter queue after maxReceiveCount deliveries", async () => {
    const queue = aws.queues.push;
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: '{"jobId":"job_1"}' }));
    const receiveCounts: string[] = [];
    const started = worker(queue, async (event) => {
      for (const r of event.Records) receiveCounts.push(r.attributes.ApproximateReceiveCount);
      // A thrown invocation fails its whole batch.
      throw new Error("the instance is gone");
    });

    const inDlq = await pollUntil(
      async () => ((await messagesIn(aws.queues.pushDlq)) > 0 ? true : undefined),
      10_000,
      50,
    );
    expect(inDlq).toBe(true);
    expect(receiveCounts).toEqual(["1", "2"]);
    expect(await messagesIn(queue)).toBe(0);
    const { Messages } = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: aws.queues.pushDlq.url, MaxNumberOfMessages: 10 }),
    );
    expect(Messages?.map((m) => m.Body)).toEqual(['{"jobId":"job_1"}']);
    expect(started.stats).toEqual({ invocations: 2, records: 2, failedRecords: 2, duplicates: 0 });
  });

  it("counts an invocation past the function's timeout as failed: its record comes back", async () => {
    const queue = aws.queues.provision;
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: "slow" }));
    const stuck = gate();
    const receiveCounts: string[] = [];
    const started = worker(
      queue,
      async (event) => {
        receiveCounts.push(event.Records[0]!.attributes.ApproximateReceiveCount);
        if (receiveCounts.length === 1) await stuck.wait;
        return { batchItemFailures: [] };
      },
      { timeoutMs: 200 },
    );
    expect(await pollUntil(async () => (receiveCounts.length >= 2 ? true : undefined), 10_000, 50)).toBe(
      true,
    );
    expect(await untilEmpty(queue)).toBe(true);
    expect(receiveCounts).toEqual(["1", "2"]);
    expect(started.stats).toEqual({ invocations: 2, records: 2, failedRecords: 1, duplicates: 0 });
  });

  it("on stop, waits for the invocation in flight, which still deletes its record", async () => {
    const queue = aws.queues.provision;
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: "work" }));
    const handler = gate();
    const order: string[] = [];
    let running = false;
    const started = worker(queue, async () => {
      running = true;
      await handler.wait;
      order.push("handler finished");
      return { batchItemFailures: [] };
    });
    expect(await pollUntil(async () => (running ? true : undefined), 10_000, 20)).toBe(true);

    const stopped = started.stop(5000).then(() => order.push("stopped"));
    setTimeout(handler.open, 300);
    await stopped;
    expect(order).toEqual(["handler finished", "stopped"]);
    expect(await messagesIn(queue)).toBe(0);
    expect(started.stats).toEqual({ invocations: 1, records: 1, failedRecords: 0, duplicates: 0 });
  });

  it("on stop, gives up on an invocation still running after the grace period", async () => {
    const queue = aws.queues.provision;
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: "forever" }));
    const never = gate();
    let running = false;
    const started = worker(queue, async () => {
      running = true;
      await never.wait;
      return { batchItemFailures: [] };
    });
    expect(await pollUntil(async () => (running ? true : undefined), 10_000, 20)).toBe(true);
    const before = Date.now();
    await started.stop(200);
    const took = Date.now() - before;
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(2000);
  });

  it("stops at once when idle, without waiting out its 20-second long poll", async () => {
    const started = worker(aws.queues.provision, async () => ({ batchItemFailures: [] }), {
      waitSeconds: 20,
    });
    // Let the long poll begin.
    await pollUntil(async () => undefined, 200, 200);
    const before = Date.now();
    await started.stop(10_000);
    expect(Date.now() - before).toBeLessThan(2000);
    expect(started.stats.invocations).toBe(0);
  });
});
