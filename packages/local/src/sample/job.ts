/**
 * The sample job `npm start` submits: a FLUX LoRA on the shipped dataset, on the cheapest RTX 4090
 * in the US at most $1/h, with a $5 budget.
 */
import type { JobRequestInput } from "@vast-rental/core";

/** The word the sample captions use for the subject the LoRA learns. */
export const SAMPLE_TRIGGER_WORD = "ohwx";

/** Where the local stack puts the sample dataset in its S3. */
export const SAMPLE_DATASET = { bucket: "datasets", prefix: "sample/" } as const;

/** What a run may change in the sample's training: the API validates both (an unknown template is a 422). */
export interface SampleTraining {
  template?: string;
  steps?: number;
}

type TemplateName = NonNullable<JobRequestInput["training"]["template"]>;

export function sampleJobRequest(
  overrides: Partial<JobRequestInput> = {},
  training: SampleTraining = {},
): JobRequestInput {
  return {
    gpuType: "RTX 4090",
    maxHourlyUsd: 1,
    region: "US",
    dataset: { kind: "s3", bucket: SAMPLE_DATASET.bucket, prefix: SAMPLE_DATASET.prefix },
    training: {
      ...(training.template ? { template: training.template as TemplateName } : {}),
      params: {
        ...(training.steps ? { steps: training.steps } : {}),
        triggerWord: SAMPLE_TRIGGER_WORD,
        samplePrompts: [`a photo of an orange ${SAMPLE_TRIGGER_WORD} creature in the snow`],
      },
    },
    budgetUsd: 5,
    ...overrides,
  };
}
