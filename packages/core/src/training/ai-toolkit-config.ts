/**
 * The subset of ai-toolkit's config format (`run.py <config.yaml>`, job `extension`, process
 * `sd_trainer`) our templates emit. Rendered configs are parsed back through this schema, so a
 * template change that breaks the shape fails here, not on a rented GPU.
 */
import { z } from "zod";

const ResolutionSchema = z.array(z.number().int().positive()).min(1);

export const AiToolkitProcessSchema = z.object({
  type: z.literal("sd_trainer"),
  training_folder: z.string().startsWith("/"),
  device: z.string(),
  trigger_word: z.string().min(1),
  network: z.object({
    type: z.literal("lora"),
    linear: z.number().int().positive(),
    linear_alpha: z.number().int().positive(),
  }),
  save: z.object({
    dtype: z.enum(["float16", "bf16", "float32"]),
    save_every: z.number().int().positive(),
    max_step_saves_to_keep: z.number().int().positive(),
    push_to_hub: z.literal(false),
  }),
  datasets: z
    .array(
      z.object({
        folder_path: z.string().startsWith("/"),
        caption_ext: z.literal("txt"),
        caption_dropout_rate: z.number().min(0).max(1),
        shuffle_tokens: z.boolean(),
        cache_latents_to_disk: z.boolean(),
        resolution: ResolutionSchema,
      }),
    )
    .length(1),
  train: z.object({
    batch_size: z.number().int().positive(),
    steps: z.number().int().positive(),
    gradient_accumulation_steps: z.number().int().positive(),
    train_unet: z.boolean(),
    train_text_encoder: z.boolean(),
    gradient_checkpointing: z.boolean(),
    noise_scheduler: z.literal("flowmatch"),
    optimizer: z.string(),
    lr: z.number().positive(),
    dtype: z.literal("bf16"),
    ema_config: z.object({ use_ema: z.boolean(), ema_decay: z.number() }).optional(),
  }),
  model: z.object({
    name_or_path: z.string(),
    is_flux: z.literal(true),
    quantize: z.boolean(),
    quantize_te: z.boolean().optional(),
    low_vram: z.boolean().optional(),
  }),
  sample: z.object({
    sampler: z.literal("flowmatch"),
    sample_every: z.number().int().positive(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    prompts: z.array(z.string()).min(1),
    neg: z.string(),
    seed: z.number().int().min(0),
    walk_seed: z.boolean(),
    guidance_scale: z.number().positive(),
    sample_steps: z.number().int().positive(),
  }),
});

export const AiToolkitConfigSchema = z.object({
  job: z.literal("extension"),
  config: z.object({
    name: z.string().min(1),
    process: z.array(AiToolkitProcessSchema).length(1),
  }),
  meta: z.object({ name: z.string(), version: z.string() }),
});
export type AiToolkitConfig = z.infer<typeof AiToolkitConfigSchema>;
export type AiToolkitProcess = z.infer<typeof AiToolkitProcessSchema>;
