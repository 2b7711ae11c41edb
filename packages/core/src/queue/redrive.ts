/**
 * How many times each queue delivers a message before its dead-letter queue takes it: the
 * redrive policy's `maxReceiveCount`, read from the deployment settings that `sst.config.ts`
 * deploys, so the code's "last delivery" and the queue's are one number. Imports only the
 * deployment settings, so the local stack's queues can load it alone.
 */
import { DEPLOYMENT, maxDeliveriesOf } from "../deployment/settings";

export const MAX_DELIVERIES = maxDeliveriesOf(DEPLOYMENT);
