/** `JobQueue` on SQS: one queue URL per queue name, per-message `DelaySeconds`. */
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
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
}
