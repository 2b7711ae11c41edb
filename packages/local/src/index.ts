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
export { LOCAL_FUNCTIONS, type LocalFunction, localFunctions } from "./functions";
export { lambdaContext } from "./lambda-context";
export { type PollerTimer, startPollerTimer } from "./poller-timer";
export { assertPortFree, freePort, PortInUseError } from "./ports";
export {
  type DuplicateDeliveries,
  type QueueWorker,
  type QueueWorkerOptions,
  startQueueWorker,
} from "./queue-worker";
export { type ReleasedRentals, releaseRentals, STOPPED_REASON } from "./release-rentals";
export { mergeSettingsOverrides } from "./settings-overrides";
export { DUPLICATE_OF, DUPLICATE_RECEIVE_COUNT, toSqsRecord } from "./sqs-event";
export {
  type LiveVastOptions,
  type LocalPorts,
  type LocalStack,
  type LocalStackOptions,
  type SimulatedVastOptions,
  startLocalStack,
} from "./stack";
