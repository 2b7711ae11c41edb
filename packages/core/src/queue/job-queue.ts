/**
 * The queue port: how the orchestrator schedules its next step. SQS in the cloud and the local
 * stack; an in-memory recorder in unit tests.
 */
import type { QueueMessage, QueueName } from "./messages";

/** SQS's upper bound for a per-message delay. */
export const MAX_DELAY_SECONDS = 900;

export interface EnqueueOptions {
  /** 0..900; larger values are clamped to 900. */
  delaySeconds?: number;
}

export interface JobQueue {
  enqueue(message: QueueMessage, options?: EnqueueOptions): Promise<void>;
  /** Makes a received message visible again after `seconds` (SQS ChangeMessageVisibility), so a
   * retry waits that long instead of the queue's whole visibility timeout. */
  changeVisibility?(queue: QueueName, receiptHandle: string, seconds: number): Promise<void>;
}

export function clampDelay(seconds: number | undefined): number {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) return 0;
  return Math.min(MAX_DELAY_SECONDS, Math.ceil(seconds));
}
