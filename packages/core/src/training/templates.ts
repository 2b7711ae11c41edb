/**
 * The training templates in force and the rendering of a job's ai-toolkit config from one. The
 * templates are the files of packages/core/configs (template-files.ts), loaded and validated when
 * this module is first imported — a Lambda's cold start — so a broken template stops the function
 * from starting, naming the file and line, instead of failing a job on a rented GPU.
 */
import { stringify } from "yaml";
import { type AiToolkitConfig, AiToolkitConfigSchema } from "./ai-toolkit-config";
import { type FluxLoraParams, FluxLoraParamsSchema } from "./params";
import { DEFAULT_WORKSPACE_ROOT, jobPaths } from "./paths";
import {
  loadTemplates,
  renderTemplateConfig,
  type TemplateHostNeeds,
  type TemplateValues,
  type TrainingTemplate,
  type TrainingTemplates,
} from "./template-files";

/** Every template of packages/core/configs, loaded at start-up. */
export const TRAINING_TEMPLATES: TrainingTemplates = loadTemplates();

/** The template a request names when it names none (if that file is present). */
export const DEFAULT_TEMPLATE_NAME = "flux-lora-24gb";

/** A job names a template that is not installed (removed since the job was accepted). */
export class UnknownTemplateError extends Error {
  override readonly name = "UnknownTemplateError";
  constructor(readonly template: string) {
    super(`the training template "${template}" is not installed`);
  }
}

/** The template a request names; `UnknownTemplateError` when it is not installed. */
export function templateFor(
  request: { template: string },
  templates: TrainingTemplates = TRAINING_TEMPLATES,
): TrainingTemplate {
  const template = templates.get(request.template);
  if (!template) throw new UnknownTemplateError(request.template);
  return template;
}

/**
 * The template trains a gated Hugging Face model and no token is configured: its first download
 * would fail on a rented GPU, after the boot and the push were paid for.
 */
export class GatedModelWithoutTokenError extends Error {
  override readonly name = "GatedModelWithoutTokenError";
  constructor(
    readonly template: string,
    readonly model: string,
  ) {
    super(
      `the training template "${template}" downloads ${model}, a gated model on Hugging Face, and no Hugging Face token is configured (hfToken in the deployment's secret)`,
    );
  }
}

/** Throws `GatedModelWithoutTokenError` when the template's model needs a token and there is none. */
export function assertModelAccess(template: TrainingTemplate, hfToken: string | undefined): void {
  if (template.model.gated && !hfToken)
    throw new GatedModelWithoutTokenError(template.name, template.model.id);
}

/**
 * The environment a rented instance gets for the template: the Hugging Face token, only when the
 * template's model is gated (a Vast host can read its containers' environment: the token goes
 * only where it is needed).
 */
export function instanceEnvironment(
  template: TrainingTemplate,
  hfToken: string | undefined,
): Record<string, string> {
  return template.model.gated && hfToken ? { HF_TOKEN: hfToken } : {};
}

/** What a template's run puts on the instance's disk besides the dataset, in GB (10^9 bytes). */
export type TemplateDiskNeeds = Pick<TemplateHostNeeds, "modelCacheGb" | "outputsReserveGb">;

/** The disk needs of the template a training request uses (a copy). */
export function templateDiskNeeds(request: { template: string }): TemplateDiskNeeds {
  const { modelCacheGb, outputsReserveGb } = templateFor(request).host;
  return { modelCacheGb, outputsReserveGb };
}

export interface RenderTarget {
  jobId: string;
  workspaceRoot?: string;
}

export interface RenderedTrainingConfig {
  config: AiToolkitConfig;
  yaml: string;
}

/**
 * The job's ai-toolkit config: the parameters are checked again (a stored request may predate a
 * rule), derived from the template's limits, put into the template as data, and the result
 * validated against ai-toolkit's schema.
 */
export function renderTrainingConfig(
  request: { template: string; params: unknown },
  target: RenderTarget,
  templates: TrainingTemplates = TRAINING_TEMPLATES,
): RenderedTrainingConfig {
  const template = templateFor(request, templates);
  const params = FluxLoraParamsSchema.parse(request.params);
  const paths = jobPaths(target.jobId, target.workspaceRoot ?? DEFAULT_WORKSPACE_ROOT);
  const config = renderTemplateConfig(
    template,
    templateValues(template, params, {
      jobId: target.jobId,
      trainingFolder: paths.trainingFolder,
      datasetFolder: paths.datasetDir,
    }),
  );
  const checked = AiToolkitConfigSchema.parse(config);
  return { config: checked, yaml: stringify(config, { lineWidth: 0 }) };
}

/** The value of every placeholder for a job (configs/README.md lists what each holds). */
export function templateValues(
  template: Pick<TrainingTemplate, "limits">,
  params: FluxLoraParams,
  paths: { jobId: string; trainingFolder: string; datasetFolder: string },
): TemplateValues {
  const { maxResolution, maxBatchSize } = template.limits;
  const fitting = params.resolution.filter((r) => r <= maxResolution);
  const resolution = fitting.length > 0 ? fitting : [512];
  // About eight checkpoints (and sample rounds) per run, on round step counts, never past the end.
  const saveEvery = Math.min(Math.max(50, Math.round(params.steps / 8 / 50) * 50), params.steps);
  return {
    ...paths,
    triggerWord: params.triggerWord,
    steps: params.steps,
    learningRate: params.learningRate,
    rank: params.rank,
    resolution,
    batchSize: Math.min(params.batchSize, maxBatchSize),
    samplePrompts:
      params.samplePrompts.length > 0 ? [...params.samplePrompts] : [`a photo of ${params.triggerWord}`],
    seed: params.seed,
    saveEvery,
    sampleSize: Math.max(...resolution),
  };
}
