/**
 * What a caller may ask of a training run: a template name and its parameters. The names are
 * those of the template files present (adding a file adds a name), so an unknown template is a
 * 400 at intake, not a failed run on a rented GPU.
 */
import { z } from "zod";
import { FluxLoraParamsSchema, StoredFluxLoraParamsSchema } from "./params";
import { DEFAULT_TEMPLATE_NAME, TRAINING_TEMPLATES } from "./templates";

const names = [...TRAINING_TEMPLATES.keys()] as [string, ...string[]];

/** The installed training templates (packages/core/configs/*.yml), by file name. */
export const TrainingTemplateNameSchema = z.enum(names);
export type TrainingTemplateName = z.infer<typeof TrainingTemplateNameSchema>;

/** `flux-lora-24gb`, or the first installed template if that file was removed. */
const defaultName = names.includes(DEFAULT_TEMPLATE_NAME) ? DEFAULT_TEMPLATE_NAME : names[0];

/** Intake: a template that is installed (the default one when none is named), and its parameters. */
export const TrainingRequestSchema = z
  .object({
    template: TrainingTemplateNameSchema.default(defaultName),
    params: FluxLoraParamsSchema,
  })
  .strict();
export type TrainingRequest = z.output<typeof TrainingRequestSchema>;

/**
 * For reading back stored requests: any template name (a template removed since the job was
 * accepted must not make its record unreadable; the job then fails before renting, or its
 * attempt is ended) and the parameters without the inline-flag rules. Such a job never reaches
 * ai-toolkit unchecked: `renderTrainingConfig` needs the template and re-checks the parameters.
 */
export const StoredTrainingRequestSchema = z
  .object({
    template: z.string().min(1).max(64).default(defaultName),
    params: StoredFluxLoraParamsSchema,
  })
  .strict();
export type StoredTrainingRequest = z.output<typeof StoredTrainingRequestSchema>;

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
