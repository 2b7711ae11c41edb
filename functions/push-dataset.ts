/**
 * Lambda entry point of the `push` queue: puts the job's dataset on its instance and launches
 * training. Each SQS record is parsed and handed to core with its delivery: the receive count
 * tells core when a retry is the last one, and the deadline (Lambda's remaining time minus the
 * teardown margin) leaves time to destroy the instance cleanly. Failed records are reported back as
 * partial batch failures.
 */
import {
  DEPLOYMENT,
  handlePushMessage,
  type PushDeps,
  parsePushQueueMessage,
  type QueueConsumerSettings,
  type SqsBatchHandler,
  sqsBatchHandler,
  withJobDependencies,
} from "@vast-rental/core";

export type PushHandler = SqsBatchHandler;

/** `consumer`: the function's deployed numbers (a scaled-down copy in the chaos run's time-compressed stack). */
export function createPushHandler(
  deps: PushDeps,
  consumer: Pick<QueueConsumerSettings, "teardownMarginSeconds"> = DEPLOYMENT.push,
): PushHandler {
  return sqsBatchHandler({
    queue: "push",
    jobQueue: deps.queue,
    // Destroying the instance and recording why (see DEPLOYMENT.push.teardownMarginSeconds).
    teardownMarginMs: consumer.teardownMarginSeconds * 1000,
    handle: (body, delivery) => handlePushMessage(deps, parsePushQueueMessage(body), delivery),
  });
}

export const handler: PushHandler = withJobDependencies((deps) => createPushHandler(deps));
