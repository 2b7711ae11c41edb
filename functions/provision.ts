/**
 * Lambda entry point of the `provision` queue (`provision` and `readiness` messages). Parses
 * each SQS record and hands it to core with its delivery (receive count, deadline, short retry);
 * failed records are reported back as partial batch failures so SQS retries only those.
 * Dependencies are built once per container.
 */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import {
  createJobDependencies,
  handleProvisionQueueMessage,
  type ProvisionDeps,
  parseProvisionQueueMessage,
  sqsDelivery,
} from "@vast-rental/core";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";

export type ProvisionHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

export function createProvisionHandler(deps: ProvisionDeps): ProvisionHandler {
  return (event, context) => {
    const handleRecord = async (record: SQSRecord): Promise<void> => {
      const message = parseProvisionQueueMessage(record.body);
      await handleProvisionQueueMessage(
        deps,
        message,
        sqsDelivery({
          queue: "provision",
          record,
          remainingTimeMs: context?.getRemainingTimeInMillis(),
          teardownMarginMs: 30_000,
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

let ready: Promise<ProvisionHandler> | undefined;

export const handler: ProvisionHandler = async (event, context) => {
  ready ??= createJobDependencies().then(createProvisionHandler);
  ready.catch(() => {
    ready = undefined;
  });
  return (await ready)(event, context);
};
