/** Public face of @vast-rental/local: the whole system on one machine, and its parts tests reuse. */
export { LOCAL_CREDENTIALS, LOCAL_REGION } from "./aws-identity";
export { type DynamoLocalProcess, launchDynamoLocal } from "./dynamodb";
export {
  type BusDelivery,
  type BusEvent,
  type BusRule,
  InvalidEventError,
  type LocalEventBus,
  startLocalEventBus,
} from "./event-bus";
export { type LocalAws, type LocalQueue, startLocalAws } from "./fauxqs";
export { lambdaContext } from "./lambda-context";
export { assertPortFree, freePort, PortInUseError } from "./ports";
export { type QueueWorker, type QueueWorkerOptions, startQueueWorker } from "./queue-worker";
export { type ReleasedRentals, releaseRentals, STOPPED_REASON } from "./release-rentals";
export { toSqsRecord } from "./sqs-event";
export {
  type LiveVastOptions,
  type LocalPorts,
  type LocalStack,
  type LocalStackOptions,
  type SimulatedVastOptions,
  startLocalStack,
} from "./stack";
