/**
 * Lambda entry point of the `push` queue: puts the job's dataset on its instance and launches
 * training. Each SQS record is parsed and handed to core; failed records are reported back as
 * partial batch failures so SQS retries only those (the receive count tells core when a retry is
 * the last one). Dependencies are built once per container.
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import {
  type CompletionDeps,
  createPushDependencies,
  handlePushMessage,
  type PushDeps,
  parsePushQueueMessage,
} from "@vast-rental/core";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";

export type PushHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

export function createPushHandler(deps: PushDeps): PushHandler {
  const handleRecord = async (record: SQSRecord): Promise<void> => {
    const message = parsePushQueueMessage(record.body);
    const receiveCount = Number(record.attributes.ApproximateReceiveCount);
    await handlePushMessage(deps, message, {
      receiveCount: Number.isFinite(receiveCount) && receiveCount > 0 ? receiveCount : 1,
    });
  };
  return (event, context) =>
    // A processor per invocation: it holds the batch's state.
    processPartialResponse(event, handleRecord, new BatchProcessor(EventType.SQS), {
      ...(context ? { context } : {}),
      throwOnFullBatchFailure: false,
    });
}

let ready: Promise<PushHandler> | undefined;

export const handler: PushHandler = async (event, context) => {
  ready ??= createPushDependencies().then((deps: CompletionDeps) => createPushHandler(deps));
  ready.catch(() => {
    ready = undefined;
  });
  return (await ready)(event, context);
};
