/**
 * Where a command that can never be applied goes: a dead-letter queue, with the reason beside the
 * event exactly as it came, so an operator can read why and replay it once fixed.
 */
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";

export interface DeadLetterSink {
  put(event: unknown, reason: string): Promise<void>;
}

export class SqsDeadLetters implements DeadLetterSink {
  constructor(private readonly options: { client: SQSClient; queueUrl: string }) {}

  async put(event: unknown, reason: string): Promise<void> {
    await this.options.client.send(
      new SendMessageCommand({
        QueueUrl: this.options.queueUrl,
        MessageBody: JSON.stringify({ reason, event }),
        MessageAttributes: { reason: { DataType: "String", StringValue: reason.slice(0, 256) } },
      }),
    );
  }
}
