/**
 * The local stack's queue worker as the chaos run drives it, on fauxqs: with `duplicates` every
 * message received is delivered a second time — as SQS's at-least-once delivery would, the same
 * message id, the receive count going on from the original's — and a copy is never copied again;
 * an invocation that outlives the function's timeout is reported, so the chaos run can end the
 * process the way Lambda ends one.
 */
import { GetQueueAttributesCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../packages/core/src/observability";
import { startQueueWorker } from "../../packages/local/src/queue-worker";
import { createRng } from "../../packages/vast-sim/src/random";
import { type LocalSqs, startLocalSqs } from "../support/fauxqs";
import { pollUntil } from "../support/poll";

let sqs: LocalSqs;
beforeAll(async () => {
  sqs = await startLocalSqs();
});
afterAll(() => sqs.stop());

function queue(prefix: string) {
  const { url, name } = sqs.createQueue(prefix);
  return { url, name, arn: `arn:aws:sqs:us-east-1:000000000000:${name}` };
}

describe("the local queue worker", () => {
  it("delivers each message twice with `duplicates`: the same id, the receive count going on, no copy of a copy", async () => {
    const q = queue("dupes");
    const seen: { id: string; count: string; body: string }[] = [];
    const worker = startQueueWorker({
      functionName: "test",
      client: sqs.client,
      queue: q,
      handler: async (event) => {
        for (const r of event.Records) {
          seen.push({ id: r.messageId, count: r.attributes.ApproximateReceiveCount, body: r.body });
        }
        return { batchItemFailures: [] };
      },
      batchSize: 10,
      concurrency: 1,
      timeoutMs: 10_000,
      waitSeconds: 1,
      duplicates: { probability: 1, maxDelaySeconds: 0, random: createRng(1).next },
      logger: silentLogger,
    });
    try {
      for (const body of ["a", "b", "c"]) {
        await sqs.client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: body }));
      }
      const empty = await pollUntil(async () => {
        if (seen.length < 6) return undefined;
        const attributes = await sqs.client.send(
          new GetQueueAttributesCommand({
            QueueUrl: q.url,
            AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
          }),
        );
        const left =
          Number(attributes.Attributes?.ApproximateNumberOfMessages) +
          Number(attributes.Attributes?.ApproximateNumberOfMessagesNotVisible);
        return left === 0 ? true : undefined;
      }, 15_000);
      expect(empty).toBe(true);
      expect(worker.stats.duplicates).toBe(3);
      expect(seen).toHaveLength(6);
      for (const body of ["a", "b", "c"]) {
        const deliveries = seen.filter((s) => s.body === body);
        expect(deliveries).toHaveLength(2);
        expect(deliveries[1]?.id).toBe(deliveries[0]?.id);
        expect(deliveries.map((d) => d.count)).toEqual(["1", "2"]);
      }
    } finally {
      await worker.stop(1000);
    }
  });

  it("reports an invocation that outlives the function's timeout", async () => {
    const q = queue("slow");
    let release!: () => void;
    const stuck = new Promise<void>((resolve) => {
      release = resolve;
    });
    let timedOut = 0;
    const worker = startQueueWorker({
      functionName: "test",
      client: sqs.client,
      queue: q,
      handler: async () => {
        await stuck;
        return { batchItemFailures: [] };
      },
      batchSize: 1,
      concurrency: 1,
      timeoutMs: 300,
      waitSeconds: 1,
      onInvocationTimeout: () => {
        timedOut++;
      },
      logger: silentLogger,
    });
    try {
      await sqs.client.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: "slow" }));
      expect(await pollUntil(async () => (timedOut > 0 ? timedOut : undefined), 10_000)).toBe(1);
      expect(worker.stats.failedRecords).toBe(1);
    } finally {
      release();
      await worker.stop(1000);
    }
  });
});
