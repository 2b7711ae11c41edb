/**
 * Lambda entry point of the `provision` queue (`provision`, `readiness`, `completion` follow-ups
 * and `callback` messages): each SQS record is parsed and handed to core with its delivery
 * (receive count, short retry, and the deadline a completion check stops connecting at); failed
 * records are reported back as partial batch failures.
 */
import {
  DEPLOYMENT,
  handleProvisionQueueMessage,
  type ProvisionDeps,
  parseProvisionQueueMessage,
  type SqsBatchHandler,
  sqsBatchHandler,
  withJobDependencies,
} from "@vast-rental/core";

export type ProvisionHandler = SqsBatchHandler;

export function createProvisionHandler(deps: ProvisionDeps): ProvisionHandler {
  return sqsBatchHandler({
    queue: "provision",
    jobQueue: deps.queue,
    teardownMarginMs: DEPLOYMENT.provision.teardownMarginSeconds * 1000,
    handle: (body, delivery) => handleProvisionQueueMessage(deps, parseProvisionQueueMessage(body), delivery),
  });
}

export const handler: ProvisionHandler = withJobDependencies(createProvisionHandler);
