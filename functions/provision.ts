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
  type QueueConsumerSettings,
  type SqsBatchHandler,
  sqsBatchHandler,
  withJobDependencies,
} from "@vast-rental/core";

export type ProvisionHandler = SqsBatchHandler;

/** `consumer`: the function's deployed numbers (a scaled-down copy in the chaos run's time-compressed stack). */
export function createProvisionHandler(
  deps: ProvisionDeps,
  consumer: Pick<QueueConsumerSettings, "teardownMarginSeconds"> = DEPLOYMENT.provision,
): ProvisionHandler {
  return sqsBatchHandler({
    queue: "provision",
    jobQueue: deps.queue,
    teardownMarginMs: consumer.teardownMarginSeconds * 1000,
    handle: (body, delivery) => handleProvisionQueueMessage(deps, parseProvisionQueueMessage(body), delivery),
  });
}

export const handler: ProvisionHandler = withJobDependencies((deps) => createProvisionHandler(deps));
