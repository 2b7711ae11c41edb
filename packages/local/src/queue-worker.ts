/**
 * A queue's event source mapping, locally: long-polls the real (fauxqs) queue, hands each batch to
 * the same handler the deployed function runs, with a real `SQSEvent` and a `Context` counting
 * down from the function's timeout, deletes what succeeded and leaves what failed to come back
 * after the visibility timeout (and to the dead-letter queue after the redrive count), as Lambda
 * does with partial batch responses.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "@vast-rental/core";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import type { LocalQueue } from "./fauxqs";
import { lambdaContext } from "./lambda-context";
import { toSqsRecord } from "./sqs-event";

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
  logger: Logger;
}

export interface QueueWorker {
  /** Invocations so far, and how many records failed in them. */
  readonly stats: { invocations: number; records: number; failedRecords: number };
  /** Stops receiving and waits up to `graceMs` (default 10 s) for running invocations. */
  stop(graceMs?: number): Promise<void>;
}

/** An invocation that outlived its function's timeout: Lambda would have ended it. */
class InvocationTimedOutError extends Error {
  override readonly name = "InvocationTimedOutError";
}

export function startQueueWorker(options: QueueWorkerOptions): QueueWorker {
  const stats = { invocations: 0, records: 0, failedRecords: 0 };
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
    } finally {
      clearTimeout(timer);
    }
  };

  const once = async (): Promise<void> => {
    const received = await options.client.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queue.url,
        MaxNumberOfMessages: options.batchSize,
        WaitTimeSeconds: options.waitSeconds ?? 20,
        MessageSystemAttributeNames: ["All"],
      }),
      { abortSignal: stopping.signal },
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) return;
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
