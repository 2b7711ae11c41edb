/**
 * The Lambda side of a work queue: each record of an SQS batch is handed over as its body and its
 * `Delivery` (receive count, deadline from Lambda's remaining time, short retry); records that
 * throw are reported back as partial batch failures (Powertools' BatchProcessor), so SQS retries
 * only those.
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { type Delivery, sqsDelivery } from "./delivery";
import type { JobQueue } from "./job-queue";
import type { QueueName } from "./messages";

export interface SqsBatchHandlerOptions {
  queue: QueueName;
  /** Where short retries are asked for (ChangeMessageVisibility). */
  jobQueue: JobQueue;
  /** Time kept back from Lambda's deadline for tearing down cleanly. */
  teardownMarginMs: number;
  /** Handles one message; throwing reports the record as failed. */
  handle(body: string, delivery: Delivery): Promise<unknown>;
}

export type SqsBatchHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

export function sqsBatchHandler(options: SqsBatchHandlerOptions): SqsBatchHandler {
  return (event, context) => {
    const handleRecord = async (record: SQSRecord): Promise<void> => {
      await options.handle(
        record.body,
        sqsDelivery({
          queue: options.queue,
          record,
          remainingTimeMs: context?.getRemainingTimeInMillis(),
          teardownMarginMs: options.teardownMarginMs,
          jobQueue: options.jobQueue,
        }),
      );
    };
    // A processor per invocation: it holds the batch's state.
    return processPartialResponse(event, handleRecord, new BatchProcessor(EventType.SQS), {
      ...(context ? { context } : {}),
      throwOnFullBatchFailure: false,
    });
  };
}
