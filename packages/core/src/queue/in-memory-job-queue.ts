/** `JobQueue` that keeps what was sent, for unit tests. */
import { clampDelay, type EnqueueOptions, type JobQueue } from "./job-queue";
import { type QueueMessage, QueueMessageSchema, type QueueName, queueFor } from "./messages";

export interface SentMessage {
  queue: QueueName;
  message: QueueMessage;
  delaySeconds: number;
}

export class InMemoryJobQueue implements JobQueue {
  readonly sent: SentMessage[] = [];

  async enqueue(message: QueueMessage, options: EnqueueOptions = {}): Promise<void> {
    const parsed = QueueMessageSchema.parse(message);
    this.sent.push({
      queue: queueFor(parsed),
      message: parsed,
      delaySeconds: clampDelay(options.delaySeconds),
    });
  }

  /** Removes and returns everything sent so far. */
  drain(): SentMessage[] {
    return this.sent.splice(0, this.sent.length);
  }
}
