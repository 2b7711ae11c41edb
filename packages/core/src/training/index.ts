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
  type FluxLoraParams,
  FluxLoraParamsSchema,
  hasInlineFlag,
  StoredFluxLoraParamsSchema,
} from "./params";
export {
  DEFAULT_WORKSPACE_ROOT,
  type JobPaths,
  jobPaths,
  RemoteJobIdSchema,
  WorkspaceRootSchema,
} from "./paths";
export { type PushAndLaunchOptions, type PushAndLaunchResult, pushAndLaunch } from "./push-and-launch";
export {
  parseTrainingRequest,
  type StoredTrainingRequest,
  StoredTrainingRequestSchema,
  TrainingParamsError,
  type TrainingRequest,
  TrainingRequestSchema,
  type TrainingTemplateName,
  TrainingTemplateNameSchema,
} from "./request";
export {
  DockerImageRefSchema,
  defaultTemplatesDir,
  loadTemplates,
  PARAM_TAG,
  parseTemplate,
  renderTemplateConfig,
  TEMPLATE_PARAMETERS,
  TemplateFileError,
  type TemplateHeader,
  TemplateHeaderSchema,
  type TemplateHostNeeds,
  TemplateHostNeedsSchema,
  type TemplateImage,
  TemplateImageSchema,
  type TemplateParameter,
  type TemplateValues,
  type TrainingTemplate,
  type TrainingTemplates,
} from "./template-files";
export {
  assertModelAccess,
  DEFAULT_TEMPLATE_NAME,
  GatedModelWithoutTokenError,
  instanceEnvironment,
  type RenderedTrainingConfig,
  type RenderTarget,
  renderTrainingConfig,
  type TemplateDiskNeeds,
  TRAINING_TEMPLATES,
  templateDiskNeeds,
  templateFor,
  templateValues,
  UnknownTemplateError,
} from "./templates";
