/**
 * One delivery of a queue message, as the step handling it needs to see it: is this the queue's
 * last try (then the step must clean up rather than throw into the dead-letter queue), how long
 * may it run (an AbortSignal that fires before Lambda kills the process, leaving time to tear
 * down), and how to ask for a short retry instead of the queue's whole visibility timeout.
 */
import type { JobQueue } from "./job-queue";
import type { QueueName } from "./messages";
import { MAX_DELIVERIES } from "./redrive";

export interface Delivery {
  /** The SQS message id (the same on every redelivery of one message). */
  messageId: string;
  /** 1 on the first delivery. */
  receiveCount: number;
  /** True when the queue will not deliver this message again. */
  isLast: boolean;
  /** Fires when the handler must stop to leave time for clean-up; never fires without a deadline. */
  signal: AbortSignal;
  /** Asks for the next delivery after about `seconds` (best effort; never throws). */
  retryIn(seconds: number): Promise<void>;
}

export interface SqsDeliveryInput {
  queue: QueueName;
  record: { messageId: string; receiptHandle: string; attributes: { ApproximateReceiveCount?: string } };
  /** Lambda's remaining time; absent outside Lambda (no deadline). */
  remainingTimeMs?: number;
  /** Time kept back from the deadline for tearing down (destroying an instance, recording why). */
  teardownMarginMs?: number;
  jobQueue: JobQueue;
}

/** Reads a delivery off an SQS record and its Lambda context. */
export function sqsDelivery(input: SqsDeliveryInput): Delivery {
  const count = Number(input.record.attributes.ApproximateReceiveCount);
  const receiveCount = Number.isFinite(count) && count > 0 ? count : 1;
  const budgetMs =
    input.remainingTimeMs === undefined ? null : input.remainingTimeMs - (input.teardownMarginMs ?? 30_000);
  const signal =
    budgetMs === null ? new AbortController().signal : AbortSignal.timeout(Math.max(1, budgetMs));
  return {
    messageId: input.record.messageId,
    receiveCount,
    isLast: receiveCount >= MAX_DELIVERIES[input.queue],
    signal,
    async retryIn(seconds) {
      await input.jobQueue.changeVisibility?.(input.queue, input.record.receiptHandle, seconds).catch(() => {
        // The message then comes back after the queue's own timeout: slower, never lost.
      });
    },
  };
}

/** A delivery outside any queue (tests, direct calls): the first, not the last, no deadline. */
export function directDelivery(overrides: Partial<Delivery> = {}): Delivery {
  return {
    messageId: "direct",
    receiveCount: 1,
    isLast: false,
    signal: new AbortController().signal,
    retryIn: async () => {},
    ...overrides,
  };
}

/** Retry backoff for a failed delivery: 10 s, 20 s, 40 s... capped at 5 minutes. */
export function retryDelaySeconds(receiveCount: number): number {
  return Math.min(300, 10 * 2 ** Math.max(0, receiveCount - 1));
}
