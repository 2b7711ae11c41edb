/**
 * How the local stack runs each queue's function, taken from the deployment's own numbers
 * (`DEPLOYMENT` in core, which `sst.config.ts` deploys, or a scaled-down copy of it): the queue's
 * visibility timeout and redrive count, the event source's batch size, and the function's timeout.
 * Only the concurrency is the stack's own: a laptop runs a couple of invocations at once, not the
 * cloud's dozens.
 */
import { DEPLOYMENT, type DeploymentSettings, type QueueConsumerSettings } from "@vast-rental/core";
import type { WorkQueueSpec } from "./fauxqs";

export interface LocalFunction {
  queue: WorkQueueSpec;
  worker: { batchSize: number; concurrency: number; timeoutMs: number };
}

/** Invocations at once per queue, locally. */
const LOCAL_CONCURRENCY = 2;

function local(settings: QueueConsumerSettings): LocalFunction {
  return {
    queue: {
      // SQS takes whole seconds; rounding up never lets a message come back early.
      visibilityTimeoutSeconds: Math.ceil(settings.queue.visibilityTimeoutSeconds),
      maxReceiveCount: settings.queue.maxReceiveCount,
    },
    worker: {
      batchSize: settings.queue.batchSize,
      concurrency: Math.min(LOCAL_CONCURRENCY, settings.queue.maxConcurrency ?? LOCAL_CONCURRENCY),
      timeoutMs: settings.timeoutSeconds * 1000,
    },
  };
}

/** Each queue's function as `deployment` sizes it. */
export function localFunctions(
  deployment: DeploymentSettings = DEPLOYMENT,
): Record<"provision" | "push", LocalFunction> {
  return { provision: local(deployment.provision), push: local(deployment.push) };
}

export const LOCAL_FUNCTIONS = localFunctions(DEPLOYMENT);
