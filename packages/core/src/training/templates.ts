/**
 * Training templates: ai-toolkit configs for FLUX.1-dev LoRA, rendered from validated request
 * parameters and the job's paths on the instance. `flux-lora-24gb` fits a 24 GB card with the
 * transformer quantized to 8 bit; `flux-lora-low-vram` also quantizes the text encoder, keeps
 * ai-toolkit's low-VRAM offloading on, and caps resolution at 768 for 12–16 GB cards.
 */
import { stringify } from "yaml";
import { type AiToolkitConfig, AiToolkitConfigSchema } from "./ai-toolkit-config";
import { DEFAULT_WORKSPACE_ROOT, jobPaths } from "./paths";
import { type TrainingRequest, TrainingRequestSchema, type TrainingTemplateName } from "./request";

export const FLUX_DEV_MODEL = "black-forest-labs/FLUX.1-dev";

/** What a template's run puts on the instance's disk besides the dataset, in GB (10^9 bytes). */
export interface TemplateDiskNeeds {
  /** The base model as the trainer downloads it into its cache. */
  modelCacheGb: number;
  /** Checkpoints (the saves kept), sample images and the latent cache written while training. */
  outputsReserveGb: number;
}

/**
 * FLUX.1-dev in diffusers format, as ai-toolkit downloads it: transformer ≈ 23.8 GB, T5-XXL text
 * encoder ≈ 9.5 GB, CLIP-L ≈ 0.25 GB, VAE ≈ 0.17 GB — ≈ 33.7 GB, rounded up. Both templates
 * download the same weights: quantization happens in memory, at load time.
 */
const FLUX_DEV_CACHE_GB = 34;

/** Disk needs of every template (with the dataset, they must fit the job's disk). */
export const TRAINING_TEMPLATE_DISK: Readonly<Record<TrainingTemplateName, Readonly<TemplateDiskNeeds>>> = {
  "flux-lora-24gb": { modelCacheGb: FLUX_DEV_CACHE_GB, outputsReserveGb: 4 },
  "flux-lora-low-vram": { modelCacheGb: FLUX_DEV_CACHE_GB, outputsReserveGb: 4 },
};

/** The disk needs of the template a training request uses. */
export function templateDiskNeeds(request: Pick<TrainingRequest, "template">): TemplateDiskNeeds {
  return { ...TRAINING_TEMPLATE_DISK[request.template] };
}

/** A training request that fails validation; `message` lists every problem with its path. */
export class TrainingParamsError extends Error {
  override readonly name = "TrainingParamsError";
  constructor(
    message: string,
    readonly issues: readonly { path: string; message: string }[],
  ) {
    super(message);
  }
}

/** Validates untrusted input (intake) into a request, or throws a readable `TrainingParamsError`. */
export function parseTrainingRequest(input: unknown): TrainingRequest {
  const parsed = TrainingRequestSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "(root)",
    message: issue.message,
  }));
  throw new TrainingParamsError(
    `invalid training request: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
    issues,
  );
}

export interface RenderTarget {
  jobId: string;
  workspaceRoot?: string;
}

export interface RenderedTrainingConfig {
  config: AiToolkitConfig;
  yaml: string;
}

/** Low-VRAM cards cannot train at 1024: keep the requested sizes that fit, or fall back to 512. */
const LOW_VRAM_MAX_RESOLUTION = 768;

export function renderTrainingConfig(request: TrainingRequest, target: RenderTarget): RenderedTrainingConfig {
  const { params, template } = TrainingRequestSchema.parse(request);
  const paths = jobPaths(target.jobId, target.workspaceRoot ?? DEFAULT_WORKSPACE_ROOT);
  const lowVram = template === "flux-lora-low-vram";
  const resolution = lowVram ? lowVramResolution(params.resolution) : [...params.resolution];
  const sampleSize = Math.max(...resolution);
  const saveEvery = Math.max(50, Math.round(params.steps / 8 / 50) * 50);
  const prompts =
    params.samplePrompts.length > 0 ? params.samplePrompts : [`a photo of ${params.triggerWord}`];

  const config: AiToolkitConfig = {
    job: "extension",
    config: {
      name: target.jobId,
      process: [
        {
          type: "sd_trainer",
          training_folder: paths.trainingFolder,
          device: "cuda:0",
          trigger_word: params.triggerWord,
          network: { type: "lora", linear: params.rank, linear_alpha: params.rank },
          save: {
            dtype: "float16",
            save_every: Math.min(saveEvery, params.steps),
            max_step_saves_to_keep: lowVram ? 2 : 4,
            push_to_hub: false,
          },
          datasets: [
            {
              folder_path: paths.datasetDir,
              caption_ext: "txt",
              caption_dropout_rate: 0.05,
              shuffle_tokens: false,
              cache_latents_to_disk: true,
              resolution,
            },
          ],
          train: {
            batch_size: lowVram ? Math.min(params.batchSize, 2) : params.batchSize,
            steps: params.steps,
            gradient_accumulation_steps: 1,
            train_unet: true,
            train_text_encoder: false,
            gradient_checkpointing: true,
            noise_scheduler: "flowmatch",
            optimizer: "adamw8bit",
            lr: params.learningRate,
            dtype: "bf16",
            // EMA keeps a second copy of the LoRA weights: worth it at 24 GB, not below.
            ...(lowVram ? {} : { ema_config: { use_ema: true, ema_decay: 0.99 } }),
          },
          model: {
            name_or_path: FLUX_DEV_MODEL,
            is_flux: true,
            quantize: true,
            ...(lowVram ? { quantize_te: true, low_vram: true } : {}),
          },
          sample: {
            sampler: "flowmatch",
            sample_every: Math.min(saveEvery, params.steps),
            width: sampleSize,
            height: sampleSize,
            prompts,
            neg: "",
            seed: params.seed,
            walk_seed: true,
            guidance_scale: 4,
            sample_steps: lowVram ? 12 : 20,
          },
        },
      ],
    },
    meta: { name: target.jobId, version: "1.0" },
  };
  const checked = AiToolkitConfigSchema.parse(config);
  return { config: checked, yaml: stringify(checked, { lineWidth: 0 }) };
}

function lowVramResolution(requested: readonly number[]): number[] {
  const fitting = requested.filter((r) => r <= LOW_VRAM_MAX_RESOLUTION);
  return fitting.length > 0 ? fitting : [512];
}
