/**
 * Lambda entry point of the `push` queue: puts the job's dataset on its instance and launches
 * training. Each SQS record is parsed and handed to core with its delivery: the receive count
 * tells core when a retry is the last one, and the deadline (Lambda's remaining time minus a
 * margin) leaves time to destroy the instance cleanly. Failed records are reported back as
 * partial batch failures. Dependencies are built once per container.
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import {
  createJobDependencies,
  handlePushMessage,
  type PushDeps,
  parsePushQueueMessage,
  sqsDelivery,
} from "@vast-rental/core";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";

export type PushHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

export function createPushHandler(deps: PushDeps): PushHandler {
  return (event, context) => {
    const handleRecord = async (record: SQSRecord): Promise<void> => {
      const message = parsePushQueueMessage(record.body);
      await handlePushMessage(
        deps,
        message,
        sqsDelivery({
          queue: "push",
          record,
          remainingTimeMs: context?.getRemainingTimeInMillis(),
          // Destroying the instance and recording why takes seconds; a minute leaves room for retries.
          teardownMarginMs: 60_000,
          jobQueue: deps.queue,
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

let ready: Promise<PushHandler> | undefined;

export const handler: PushHandler = async (event, context) => {
  ready ??= createJobDependencies().then(createPushHandler);
  ready.catch(() => {
    ready = undefined;
  });
  return (await ready)(event, context);
};
