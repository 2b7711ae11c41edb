/** A valid job request for tests, with overrides. */
import {
  type JobRequest,
  type JobRequestInput,
  JobRequestSchema,
} from "../../packages/core/src/jobs/request";

export function sampleJobRequestInput(overrides: Partial<JobRequestInput> = {}): JobRequestInput {
  return {
    gpuType: "RTX 4090",
    maxHourlyUsd: 1,
    region: "US",
    dataset: { kind: "s3", bucket: "datasets", prefix: "sample/" },
    training: { params: { triggerWord: "ohwx" } },
    budgetUsd: 20,
    ...overrides,
  };
}

export function sampleJobRequest(overrides: Partial<JobRequestInput> = {}): JobRequest {
  return JobRequestSchema.parse(sampleJobRequestInput(overrides));
}
