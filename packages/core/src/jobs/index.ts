/** Public face of the job lifecycle: intake, the steps, the reaper, and what they depend on. */

export { type AnnounceDeps, announce } from "./announce";
export {
  type AfterAttempt,
  type AttemptEnding,
  attemptCost,
  attemptCostBound,
  type EndedAttempt,
  endAttempt,
  finishJob,
  giveUpReason,
  rentalsSoFar,
  storageHourlyUsd,
  type TerminalEvent,
  totalCost,
} from "./attempts";
export { type CallbackStepOutcome, deliverCallback } from "./callbacks";
export { CancelTooLateError, cancelJob } from "./cancel";
export {
  type CommandDeps,
  type CommandOutcome,
  handleCommandEvent,
  InvalidCommandError,
} from "./commands";
export {
  artifactKey,
  COMPLETION_LEASE,
  type CompletionAction,
  type CompletionCheckOptions,
  type CompletionResult,
  checkJobTraining,
  failedRunReason,
  type StoredArtifact,
} from "./completion";
export {
  COMPLETION_FOLLOW_UP_ONCE,
  type FollowUpOutcome,
  type FollowUpTarget,
  handleCompletionFollowUp,
  scheduleCompletionFollowUp,
} from "./completion-follow-up";
export { datasetPolicy, pushPolicyFor } from "./dataset-rules";
export {
  type CompletionDeps,
  type DatasetAccess,
  type JobDeps,
  type ProvisionDeps,
  type PushDeps,
  type ReaperDeps,
  redactFor,
  settingsOf,
} from "./deps";
export {
  getOurInstance,
  InstanceNotFoundError,
  listOurInstances,
  startOurInstance,
  stopOurInstance,
  type TerminatedInstance,
  terminateOurInstance,
} from "./instances";
export { applyEvent, type LifecycleDeps } from "./lifecycle";
export { limitExceeded, runningLimitExceeded } from "./limits";
export {
  handleProvisionQueueMessage,
  MalformedMessageError,
  parseProvisionQueueMessage,
  parseQueueBody,
} from "./messages";
export type { HostPreflight, SshConnector, SshProbe, VastPort } from "./ports";
export { preflightRequirementsFor, vramFloorMib } from "./preflight";
export { giveUpProvisioning, JobBusyError, PROVISION_LEASE, provisionJob } from "./provision";
export {
  handlePushMessage,
  PUSH_LEASE,
  PushInProgressError,
  type PushOutcome,
  parsePushQueueMessage,
} from "./push";
export { checkReadiness, type ReadinessContext } from "./readiness";
export {
  REAPER_ACTIONS,
  REAPER_LEASE,
  type ReaperAction,
  type ReaperActionCounts,
  type ReaperSummary,
  runReaper,
} from "./reaper";
export {
  formatIssues,
  type JobRequest,
  type JobRequestInput,
  JobRequestSchema,
  jobRequestSchema,
  offerConstraintsOf,
  StoredJobRequestSchema,
} from "./request";
export { estimateRunEnd, type RunEndInput, type RunProgressSample } from "./run-end";
export {
  type CompletionSettings,
  type DatasetSettings,
  DEFAULT_JOB_SETTINGS,
  type JobSettings,
  type JobSettingsOverrides,
  type ProvisionSettings,
  type PushSettings,
  type ReaperSettings,
  resolveSettings,
} from "./settings";
export {
  ACTIVE_STATES,
  canTransition,
  IllegalTransitionError,
  isTerminal,
  type JobEvent,
  JobEventSchema,
  type JobEventType,
  JobEventTypeSchema,
  type JobState,
  JobStateSchema,
  nextState,
  TERMINAL_STATES,
} from "./state-machine";
export { destroyStray, type StrayInstance } from "./strays";
export {
  assertKnownGpuAndRegion,
  JobValidationError,
  newJobId,
  requestHash,
  type SubmitDeps,
  type SubmitResult,
  submitJob,
  validateJobRequest,
} from "./submit";
export { vastPortFromService } from "./vast-adapter";
