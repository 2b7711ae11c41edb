/**
 * Lambda entry point of the `provision` queue (`provision` and `readiness` messages). Parses
 * each SQS record and hands it to core; failed records are reported back as partial batch
 * failures so SQS retries only those. Dependencies are built once per container.
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import {
  createProvisionDependencies,
  handleProvisionQueueMessage,
  type ProvisionDeps,
  parseProvisionQueueMessage,
} from "@vast-rental/core";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";

export type ProvisionHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

export function createProvisionHandler(deps: ProvisionDeps): ProvisionHandler {
  const handleRecord = async (record: SQSRecord): Promise<void> => {
    const message = parseProvisionQueueMessage(record.body);
    await handleProvisionQueueMessage(deps, message, { messageId: record.messageId });
  };
  return (event, context) =>
    // A processor per invocation: it holds the batch's state.
    processPartialResponse(event, handleRecord, new BatchProcessor(EventType.SQS), {
      ...(context ? { context } : {}),
      throwOnFullBatchFailure: false,
    });
}

let ready: Promise<ProvisionHandler> | undefined;

export const handler: ProvisionHandler = async (event, context) => {
  ready ??= createProvisionDependencies().then(createProvisionHandler);
  ready.catch(() => {
    ready = undefined;
  });
  return (await ready)(event, context);
};
