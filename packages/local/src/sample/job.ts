/**
 * The sample job `npm start` submits: a FLUX LoRA on the shipped dataset, on the cheapest RTX 4090
 * in the US at most $1/h, with a $5 budget.
 */
import type { JobRequestInput } from "@vast-rental/core";

/** The word the sample captions use for the subject the LoRA learns. */
export const SAMPLE_TRIGGER_WORD = "ohwx";

/** Where the local stack puts the sample dataset in its S3. */
export const SAMPLE_DATASET = { bucket: "datasets", prefix: "sample/" } as const;

export function sampleJobRequest(overrides: Partial<JobRequestInput> = {}): JobRequestInput {
  return {
    gpuType: "RTX 4090",
    maxHourlyUsd: 1,
    region: "US",
    dataset: { kind: "s3", bucket: SAMPLE_DATASET.bucket, prefix: SAMPLE_DATASET.prefix },
    training: {
      params: {
        triggerWord: SAMPLE_TRIGGER_WORD,
        samplePrompts: [`a photo of an orange ${SAMPLE_TRIGGER_WORD} creature in the snow`],
      },
    },
    budgetUsd: 5,
    ...overrides,
  };
}
