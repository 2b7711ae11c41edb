/**
 * How the local stack runs each queue's function, taken from the deployment's own numbers
 * (`DEPLOYMENT` in core, which `sst.config.ts` deploys): the queue's visibility timeout and redrive
 * count, the event source's batch size, and the function's timeout. Only the concurrency is the
 * stack's own: a laptop runs a couple of invocations at once, not the cloud's dozens.
 */
import { DEPLOYMENT, type QueueConsumerSettings } from "@vast-rental/core";
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
      visibilityTimeoutSeconds: settings.queue.visibilityTimeoutSeconds,
      maxReceiveCount: settings.queue.maxReceiveCount,
    },
    worker: {
      batchSize: settings.queue.batchSize,
      concurrency: Math.min(LOCAL_CONCURRENCY, settings.queue.maxConcurrency ?? LOCAL_CONCURRENCY),
      timeoutMs: settings.timeoutSeconds * 1000,
    },
  };
}

export const LOCAL_FUNCTIONS = {
  provision: local(DEPLOYMENT.provision),
  push: local(DEPLOYMENT.push),
} as const satisfies Record<string, LocalFunction>;
