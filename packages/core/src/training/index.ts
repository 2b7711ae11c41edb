export {
  type AiToolkitConfig,
  AiToolkitConfigSchema,
  type AiToolkitProcess,
  AiToolkitProcessSchema,
} from "./ai-toolkit-config";
export {
  type CheckTrainingOptions,
  checkTraining,
  parseProgress,
  parseTrainingReport,
  type TrainingCheck,
  type TrainingStatus,
  TrainingStatusSchema,
} from "./check";
export {
  ArtifactError,
  ArtifactMissingError,
  type CollectArtifactOptions,
  type CollectedArtifact,
  collectArtifact,
} from "./collect";
export { type LaunchResult, type LaunchTrainingOptions, launchTraining } from "./launch";
export {
  DEFAULT_WORKSPACE_ROOT,
  type JobPaths,
  jobPaths,
  RemoteJobIdSchema,
  WorkspaceRootSchema,
} from "./paths";
export { type PushAndLaunchOptions, type PushAndLaunchResult, pushAndLaunch } from "./push-and-launch";
export * from "./request";
export {
  FLUX_DEV_MODEL,
  parseTrainingRequest,
  type RenderedTrainingConfig,
  type RenderTarget,
  renderTrainingConfig,
  type TemplateDiskNeeds,
  TRAINING_TEMPLATE_DISK,
  TrainingParamsError,
  templateDiskNeeds,
} from "./templates";
