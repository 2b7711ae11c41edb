/**
 * A queue's event source mapping, locally: long-polls the real (fauxqs) queue, hands each batch to
 * the same handler the deployed function runs, with a real `SQSEvent` and a `Context` counting
 * down from the function's timeout, deletes what succeeded and leaves what failed to come back
 * after the visibility timeout (and to the dead-letter queue after the redrive count), as Lambda
 * does with partial batch responses.
 *
 * On request (`duplicates`, the chaos run) it also models SQS's at-least-once delivery: a message
 * received is, at random, sent to the queue again as a copy that any consumer may receive — at once,
 * while the original is still being handled, or a few seconds later — and that reaches the handler
 * as another delivery of the original (same message id; see sqs-event.ts).
 */
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Logger } from "@vast-rental/core";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import type { LocalQueue } from "./fauxqs";
import { lambdaContext } from "./lambda-context";
import { DUPLICATE_OF, DUPLICATE_RECEIVE_COUNT, toSqsRecord } from "./sqs-event";

export type SqsFunction = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export interface QueueWorkerOptions {
  /** The function's name, for logs and its context. */
  functionName: string;
  client: SQSClient;
  queue: LocalQueue;
  handler: SqsFunction;
  /** Records per invocation (the event source mapping's batch size). */
  batchSize: number;
  /** Invocations at once (the function's concurrency for this queue). */
  concurrency: number;
  /** The function's timeout; an invocation still running after it counts as failed. */
  timeoutMs: number;
  /** Long-poll wait per receive, in seconds (SQS allows 0–20). Default 20. */
  waitSeconds?: number;
  /** Deliver some messages twice, as SQS may (default: never). */
  duplicates?: DuplicateDeliveries;
  /**
   * Called when an invocation outlived the function's timeout (its batch then counts as failed).
   * Lambda stops such an invocation; here it keeps running unless this ends the process.
   */
  onInvocationTimeout?: () => void;
  logger: Logger;
}

/** At-least-once delivery: each message received is delivered again with this probability. */
export interface DuplicateDeliveries {
  probability: number;
  /** The copy becomes visible after 0 to this many seconds (whole seconds, drawn uniformly). */
  maxDelaySeconds: number;
  /** Uniform in [0, 1): seeded by the caller so a run's choices can be replayed. */
  random: () => number;
  /** Told of each copy sent (the chaos run counts them). */
  onDuplicate?: (messageId: string) => void;
}

export interface QueueWorker {
  /** Invocations so far, how many records failed in them, and the duplicate copies sent. */
  readonly stats: { invocations: number; records: number; failedRecords: number; duplicates: number };
  /** Stops receiving and waits up to `graceMs` (default 10 s) for running invocations. */
  stop(graceMs?: number): Promise<void>;
}

/** An invocation that outlived its function's timeout: Lambda would have ended it. */
class InvocationTimedOutError extends Error {
  override readonly name = "InvocationTimedOutError";
}

export function startQueueWorker(options: QueueWorkerOptions): QueueWorker {
  const stats = { invocations: 0, records: 0, failedRecords: 0, duplicates: 0 };
  const stopping = new AbortController();

  const invoke = async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const context = lambdaContext(options.functionName, options.timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new InvocationTimedOutError(`${options.functionName} timed out after ${options.timeoutMs} ms`),
          ),
        options.timeoutMs,
      );
    });
    try {
      return await Promise.race([options.handler(event, context), timedOut]);
    } catch (error) {
      if (error instanceof InvocationTimedOutError) options.onInvocationTimeout?.();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  };

  /** Sends a copy of `message` back to the queue, unless it is itself a copy. */
  const maybeDuplicate = async (message: Message): Promise<void> => {
    const d = options.duplicates;
    if (!d || message.MessageAttributes?.[DUPLICATE_OF] || !(d.random() < d.probability)) return;
    const messageId = message.MessageId ?? "";
    await options.client.send(
      new SendMessageCommand({
        QueueUrl: options.queue.url,
        MessageBody: message.Body ?? "",
        DelaySeconds: Math.floor(d.random() * (d.maxDelaySeconds + 1)),
        MessageAttributes: {
          [DUPLICATE_OF]: { DataType: "String", StringValue: messageId },
          [DUPLICATE_RECEIVE_COUNT]: {
            DataType: "Number",
            StringValue: message.Attributes?.ApproximateReceiveCount ?? "1",
          },
        },
      }),
    );
    stats.duplicates++;
    d.onDuplicate?.(messageId);
  };

  const once = async (): Promise<void> => {
    const received = await options.client.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queue.url,
        MaxNumberOfMessages: options.batchSize,
        WaitTimeSeconds: options.waitSeconds ?? 20,
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
      { abortSignal: stopping.signal },
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) return;
    for (const message of messages) {
      await maybeDuplicate(message).catch((error: unknown) =>
        options.logger.warn("could not send a duplicate delivery", {
          function: options.functionName,
          error: String(error),
        }),
      );
    }
    const records = messages.map((m) => toSqsRecord(m, options.queue.arn));
    stats.invocations++;
    stats.records += records.length;
    let failed: Set<string>;
    try {
      const response = await invoke({ Records: records });
      failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    } catch (error) {
      // A thrown invocation fails its whole batch: every record comes back.
      options.logger.error("invocation failed", { function: options.functionName, error: String(error) });
      failed = new Set(records.map((r) => r.messageId));
    }
    stats.failedRecords += failed.size;
    const done = records.filter((r) => !failed.has(r.messageId));
    if (done.length > 0) {
      await options.client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queue.url,
          Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
        }),
      );
    }
  };

  const loop = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      try {
        await once();
      } catch (error) {
        if (stopping.signal.aborted) return;
        options.logger.warn("queue receive failed; trying again", {
          function: options.functionName,
          error: String(error),
        });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };

  const loops = Array.from({ length: options.concurrency }, loop);
  return {
    stats,
    async stop(graceMs = 10_000) {
      stopping.abort();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(loops),
        new Promise((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}
