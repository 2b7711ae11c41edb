/**
 * The dataset rules a job is held to, from the deployment's settings: the same policy is applied
 * to the listing before renting and to the stream while pushing — where the limit on bytes is
 * also what the job's disk can hold once the model cache and outputs have their share.
 */
import type { DatasetPolicy } from "../dataset";
import type { JobRecord } from "../store";
import { templateDiskNeeds } from "../training";
import type { DatasetSettings } from "./settings";

const BYTES_PER_GB = 1e9;

export function datasetPolicy(settings: DatasetSettings): DatasetPolicy {
  return {
    minImages: settings.minImages,
    maxMissingCaptionRatio: settings.maxMissingCaptionRatio,
    limits: { maxBytes: settings.maxBytes, maxFiles: settings.maxFiles },
  };
}

/** The policy for the push: no more bytes than the instance's disk has room for. */
export function pushPolicyFor(job: JobRecord, settings: DatasetSettings): DatasetPolicy {
  const needs = templateDiskNeeds(job.request.training);
  const roomBytes =
    Math.max(0, job.request.diskGb - needs.modelCacheGb - needs.outputsReserveGb) * BYTES_PER_GB;
  const policy = datasetPolicy(settings);
  return { ...policy, limits: { ...policy.limits, maxBytes: Math.min(policy.limits.maxBytes, roomBytes) } };
}
