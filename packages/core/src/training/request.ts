/**
 * What a caller may ask of a training run: a template name and its parameters. Validated at
 * intake, so an unknown or out-of-range parameter is a 400, not a failed run on a rented GPU.
 */
import { z } from "zod";
import { hasControlCharacters } from "../input";

/** Training templates shipped with core (ai-toolkit config format). */
export const TrainingTemplateNameSchema = z.enum(["flux-lora-24gb", "flux-lora-low-vram"]);
export type TrainingTemplateName = z.infer<typeof TrainingTemplateNameSchema>;

/** A word the LoRA learns; it reaches a YAML file and prompts, so keep it to a safe alphabet. */
const TriggerWordSchema = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, "trigger word may contain only letters, digits, '_' and '-'");

const SamplePromptSchema = z
  .string()
  .trim()
  .min(1)
  .max(500)
  .refine((s) => !hasControlCharacters(s), "sample prompts may not contain control characters");

export const FluxLoraParamsSchema = z
  .object({
    triggerWord: TriggerWordSchema,
    steps: z.number().int().min(100).max(20_000).default(2000),
    learningRate: z.number().positive().max(0.01).default(1e-4),
    rank: z.number().int().min(1).max(128).default(16),
    resolution: z
      .array(z.union([z.literal(512), z.literal(768), z.literal(1024)]))
      .min(1)
      .max(3)
      .default([512, 768, 1024]),
    batchSize: z.number().int().min(1).max(8).default(1),
    samplePrompts: z.array(SamplePromptSchema).max(10).default([]),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(42),
  })
  .strict();
export type FluxLoraParams = z.output<typeof FluxLoraParamsSchema>;

export const TrainingRequestSchema = z
  .object({
    template: TrainingTemplateNameSchema.default("flux-lora-24gb"),
    params: FluxLoraParamsSchema,
  })
  .strict();
export type TrainingRequest = z.output<typeof TrainingRequestSchema>;
