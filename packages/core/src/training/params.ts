/**
 * The parameters a caller may give a training run, the same for every template (the template
 * decides where they go: configs/README.md). Validated at intake, so an out-of-range parameter
 * is a 400, not a failed run on a rented GPU.
 */
import { z } from "zod";
import { hasControlCharacters } from "../input";

/**
 * ai-toolkit reads flags inside sample prompts: `GenerateImageConfig._process_prompt_string`
 * (toolkit/config_modules.py in ostris/ai-toolkit) splits each prompt on the literal two
 * characters `--` and takes what follows each split as a flag and its value (`--w`, `--h`,
 * `--steps`, `--seed`, `--cfg`, `--n`, `--ctrl_img` ...). A prompt carrying them overrides the
 * validated resolution and steps (`a cat --w 8192 --h 8192` can exhaust a rented GPU), so any
 * `--` is refused. The split is a plain ASCII match: long dashes (`—`, `–`) are punctuation to
 * it and stay allowed, as prose uses them. The text is NFKC-normalised first, so compatibility
 * forms that fold to `-` (fullwidth `－`, small `﹣`) cannot form a `--` if any layer folds them.
 */
const INLINE_FLAG_HELP = "ai-toolkit reads --w, --h, --steps... inside prompts";

/** True when `text` holds `--`, or something that becomes `--` under Unicode compatibility folding. */
export function hasInlineFlag(text: string): boolean {
  return text.normalize("NFKC").includes("--");
}

/** A word the LoRA learns; it reaches a YAML file and prompts, so keep it to a safe alphabet. */
const TriggerWordShape = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, "trigger word may contain only letters, digits, '_' and '-'");

/**
 * ai-toolkit puts the trigger word into the sample prompts before reading their flags
 * (`inject_trigger_into_prompt` in toolkit/prompt_utils.py replaces `[trigger]` and `[name]`
 * with it, or prepends it and a space), so it must not carry `--` and must not start or end
 * with `-`: next to a `-` in a prompt (`-[trigger]`) that would make a `--`. With this rule and
 * `--` refused in prompts, no substitution can create a flag.
 */
const TriggerWordSchema = TriggerWordShape.refine(
  (word) => !word.includes("--") && !word.startsWith("-") && !word.endsWith("-"),
  `trigger word may not contain '--' or start or end with '-' (${INLINE_FLAG_HELP}, and the trigger word is put into them)`,
);

const SamplePromptShape = z
  .string()
  .trim()
  .min(1)
  .max(500)
  .refine((s) => !hasControlCharacters(s), "sample prompts may not contain control characters");

const SamplePromptSchema = SamplePromptShape.refine(
  (prompt) => !hasInlineFlag(prompt),
  `sample prompts may not contain '--' flags (${INLINE_FLAG_HELP})`,
);

/** The parameters, with the trigger word and prompt rules given (intake's, or a stored record's). */
function fluxLoraParamsSchemaWith(
  triggerWord: typeof TriggerWordShape,
  samplePrompt: typeof SamplePromptShape,
) {
  return z
    .object({
      triggerWord,
      steps: z.number().int().min(100).max(20_000).default(2000),
      learningRate: z.number().positive().max(0.01).default(1e-4),
      rank: z.number().int().min(1).max(128).default(16),
      resolution: z
        .array(z.union([z.literal(512), z.literal(768), z.literal(1024)]))
        .min(1)
        .max(3)
        .default([512, 768, 1024]),
      batchSize: z.number().int().min(1).max(8).default(1),
      samplePrompts: z.array(samplePrompt).max(10).default([]),
      seed: z
        .number()
        .int()
        .min(0)
        .max(2 ** 31 - 1)
        .default(42),
    })
    .strict();
}

export const FluxLoraParamsSchema = fluxLoraParamsSchemaWith(TriggerWordSchema, SamplePromptSchema);
export type FluxLoraParams = z.output<typeof FluxLoraParamsSchema>;

/**
 * For reading back stored requests: the same shape without the inline-flag rules, so a job
 * accepted before those rules existed stays readable (and can be ended and billed). Such a job
 * still never reaches ai-toolkit with a flag: `renderTrainingConfig` re-checks with
 * `FluxLoraParamsSchema`.
 */
export const StoredFluxLoraParamsSchema = fluxLoraParamsSchemaWith(TriggerWordShape, SamplePromptShape);
