export {
  type AiToolkitConfig,
  AiToolkitConfigSchema,
  type AiToolkitProcess,
  AiToolkitProcessSchema,
} from "./ai-toolkit-config";
export {
  DEFAULT_WORKSPACE_ROOT,
  type JobPaths,
  jobPaths,
  RemoteJobIdSchema,
  WorkspaceRootSchema,
} from "./paths";
export * from "./request";
export {
  FLUX_DEV_MODEL,
  parseTrainingRequest,
  type RenderedTrainingConfig,
  type RenderTarget,
  renderTrainingConfig,
  TrainingParamsError,
} from "./templates";
