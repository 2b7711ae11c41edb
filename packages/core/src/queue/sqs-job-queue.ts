/** `JobQueue` on SQS: one queue URL per queue name, per-message `DelaySeconds`. */
import { ChangeMessageVisibilityCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { clampDelay, type EnqueueOptions, type JobQueue } from "./job-queue";
import { type QueueMessage, QueueMessageSchema, type QueueName, queueFor } from "./messages";

export interface SqsJobQueueOptions {
  client: SQSClient;
  queueUrls: Record<QueueName, string>;
}

export class SqsJobQueue implements JobQueue {
  constructor(private readonly options: SqsJobQueueOptions) {}

  async enqueue(message: QueueMessage, options: EnqueueOptions = {}): Promise<void> {
    const body = QueueMessageSchema.parse(message);
    await this.options.client.send(
      new SendMessageCommand({
        QueueUrl: this.options.queueUrls[queueFor(message)],
        MessageBody: JSON.stringify(body),
        DelaySeconds: clampDelay(options.delaySeconds),
      }),
    );
  }

  async changeVisibility(queue: QueueName, receiptHandle: string, seconds: number): Promise<void> {
    await this.options.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.options.queueUrls[queue],
        ReceiptHandle: receiptHandle,
        // SQS allows 0..43200 seconds.
        VisibilityTimeout: Math.max(0, Math.min(43_200, Math.ceil(seconds))),
      }),
    );
  }
}
