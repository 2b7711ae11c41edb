/**
 * Feeds an SQS queue (fauxqs) to a Lambda-style SQS handler the way the event source mapping
 * does: receive a batch, build real `SQSEvent` records, invoke, delete what succeeded, and make
 * what failed visible again (at once, to keep tests fast). Optionally delivers every batch twice,
 * concurrently, as at-least-once delivery may.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { toSqsRecord } from "../../packages/local/src/sqs-event";

export { toSqsRecord };

export type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

export interface PumpOptions {
  /** Invoke each batch on every handler given (concurrently): racing consumers or duplicates. */
  handlers: SqsHandler[];
  batchSize?: number;
}

export interface PumpResult {
  received: number;
  failed: number;
}

/** One receive → invoke → delete round. */
export async function pumpOnce(
  client: SQSClient,
  queueUrl: string,
  options: PumpOptions,
): Promise<PumpResult> {
  const out = await client.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: options.batchSize ?? 10,
      WaitTimeSeconds: 0,
      VisibilityTimeout: 30,
      MessageSystemAttributeNames: ["All"],
    }),
  );
  const messages = out.Messages ?? [];
  if (messages.length === 0) return { received: 0, failed: 0 };
  const arn = `arn:aws:sqs:us-east-1:000000000000:${queueUrl.split("/").pop()}`;
  const records = messages.map((m) => toSqsRecord(m, arn));
  const responses = await Promise.all(options.handlers.map((handler) => handler({ Records: records })));
  let failed = 0;
  for (const record of records) {
    // Deleted when any delivery succeeded (that one deletes it); otherwise retried.
    const succeeded = responses.some(
      (r) => !r.batchItemFailures.some((f) => f.itemIdentifier === record.messageId),
    );
    if (succeeded) {
      await client.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: record.receiptHandle }),
      );
    } else {
      failed++;
      await client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrl,
          ReceiptHandle: record.receiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    }
  }
  return { received: messages.length, failed };
}
