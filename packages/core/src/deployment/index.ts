/**
 * The deployment's numbers, shared by `sst.config.ts` and core (see settings.ts), the IAM access
 * each function gets (access.ts), and the check that they agree (invariants.ts). Nothing here
 * imports anything outside this folder, so `sst.config.ts` can `await import()` it alone.
 */
export {
  ACCESS,
  type Access,
  type DeployedFunction,
  FUNCTION_ACCESS,
} from "./access";
export { BUNDLE_COPY_FILES } from "./bundle";
export {
  type CoreJobSettingsView,
  type CoreView,
  checkDeploymentInvariants,
  type DeploymentRule,
  type DeploymentViolation,
  MIN_LEASE_MARGIN_SECONDS,
  MIN_POLLER_FINISH_SECONDS,
  VISIBILITY_TIMEOUT_FACTOR,
} from "./invariants";
export {
  type CompletionFollowUpSettings,
  DEPLOYMENT,
  type DeadLetterSettings,
  type DeploymentSettings,
  type DerivedTimings,
  type FunctionSettings,
  leasesOf,
  maxDeliveriesOf,
  megabytes,
  type PollerSettings,
  type PushFunctionSettings,
  pollerPeriodSecondsOf,
  type QueueConsumerSettings,
  type QueueSettings,
  type StepDeadlines,
  seconds,
  type WorkQueueName,
} from "./settings";
