/**
 * What a caller may ask for when submitting a job: the GPU to rent, the money and time it may
 * spend, the dataset and the training run. The schema is the single source of the type; it
 * refuses unknown keys so a misspelt option is a 400, not a silently ignored constraint.
 *
 * URLs the system will fetch or post to (an https dataset, `callbackUrl`) are held to the
 * outbound rules at intake: `JobRequestSchema` is production's (no allowlist);
 * `jobRequestSchema(policy)` applies a deployment's allowlist (the local stack's loopback
 * servers). `StoredJobRequestSchema` reads records back without intake-only rules.
 */
import { z } from "zod";
import { DatasetSourceSchema, datasetSourceSchema, StoredDatasetSourceSchema } from "../dataset";
import { hasControlCharacters } from "../input";
import { DEFAULT_OUTBOUND_POLICY, MAX_URL_LENGTH, type OutboundPolicy, publicHttpsUrlSchema } from "../net";
import { DockerImageRefSchema, StoredTrainingRequestSchema, TrainingRequestSchema } from "../training";

/**
 * Offers whose download bandwidth is below this are not rented, unless the request says
 * otherwise: the run downloads its base model first (FLUX.1-dev: 34 GB, ≈ 23 minutes at
 * 200 Mb/s, billed GPU time), and hosts below this are also the ones that stall on it.
 */
export const DEFAULT_MIN_INET_DOWN_MBPS = 200;

const IdempotencyKeySchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, "idempotencyKey may contain only letters, digits, '.', '_', ':' and '-'");

/** The parts of a request whose rules differ between intake and stored records. */
interface RequestRules<T extends z.ZodType> {
  dataset: typeof DatasetSourceSchema;
  training: T;
  callbackUrl: z.ZodString;
}

function jobRequestSchemaWith<T extends z.ZodType>(rules: RequestRules<T>) {
  return z
    .object({
      gpuType: z
        .string()
        .trim()
        .min(1, "gpuType is required")
        .max(64)
        .refine((s) => !hasControlCharacters(s), "gpuType may not contain control characters"),
      numGpus: z.number().int().min(1).max(16).default(1),
      minVramGb: z.number().positive().max(1024).optional(),
      maxHourlyUsd: z.number().positive("maxHourlyUsd must be greater than 0").max(1000),
      region: z
        .string()
        .trim()
        .min(2)
        .max(16)
        .regex(/^[A-Za-z_-]+$/, "region must be a region group (US, EU, ...) or an ISO country code")
        .optional(),
      minReliability: z.number().min(0).max(1).default(0.95),
      minDiskGb: z.number().positive().max(100_000).optional(),
      /** Offers with a slower download (`inet_down`, Mb/s) are not rented; 0 lifts the floor. */
      minInetDownMbps: z.number().min(0).max(100_000).default(DEFAULT_MIN_INET_DOWN_MBPS),
      /** The training template's image when absent (its ai-toolkit folder and python are used either way). */
      image: DockerImageRefSchema.optional(),
      diskGb: z.number().int().min(10).max(2000).default(64),
      dataset: rules.dataset,
      training: rules.training,
      budgetUsd: z.number().positive("budgetUsd must be greater than 0").max(100_000),
      maxRuntimeMinutes: z
        .number()
        .int()
        .min(5)
        .max(7 * 24 * 60)
        .default(240),
      bootTimeoutMinutes: z.number().int().min(1).max(120).default(15),
      maxAttempts: z.number().int().min(1).max(10).default(3),
      callbackUrl: rules.callbackUrl.optional(),
      idempotencyKey: IdempotencyKeySchema.optional(),
    })
    .strict();
}

/** Production's intake: no host is allowed to be private or loopback. */
export const JobRequestSchema = jobRequestSchemaWith({
  dataset: DatasetSourceSchema,
  training: TrainingRequestSchema,
  callbackUrl: publicHttpsUrlSchema(DEFAULT_OUTBOUND_POLICY, "callbackUrl"),
});

const schemasByPolicy = new WeakMap<OutboundPolicy, typeof JobRequestSchema>();

/**
 * Intake under a deployment's outbound policy: hosts on its allowlist may be private or
 * loopback (the local stack's servers). Built once per policy object.
 */
export function jobRequestSchema(
  outbound: OutboundPolicy = DEFAULT_OUTBOUND_POLICY,
): typeof JobRequestSchema {
  if (outbound === DEFAULT_OUTBOUND_POLICY || outbound.allowHosts.length === 0) return JobRequestSchema;
  let schema = schemasByPolicy.get(outbound);
  if (!schema) {
    schema = jobRequestSchemaWith({
      dataset: datasetSourceSchema(outbound),
      training: TrainingRequestSchema,
      callbackUrl: publicHttpsUrlSchema(outbound, "callbackUrl"),
    });
    schemasByPolicy.set(outbound, schema);
  }
  return schema;
}

/**
 * For requests read back from the store: the same shape, without the rules that are intake's
 * alone (the outbound address rules, ai-toolkit's inline flags). A record accepted under a
 * local stack's allowlist, or before a rule was added, must stay readable so the job can still
 * be ended and its instance destroyed; what it fetches and runs is checked again when used.
 */
export const StoredJobRequestSchema = jobRequestSchemaWith({
  dataset: StoredDatasetSourceSchema,
  training: StoredTrainingRequestSchema,
  callbackUrl: z
    .string()
    .max(MAX_URL_LENGTH)
    .refine((u) => u.startsWith("https://"), "callbackUrl must use https"),
});

export type JobRequestInput = z.input<typeof JobRequestSchema>;
export type JobRequest = z.output<typeof JobRequestSchema>;

/** The offer constraints a request sets, as the Vast offer search takes them. */
export function offerConstraintsOf(request: JobRequest) {
  const { gpuType, region, maxHourlyUsd, numGpus, minVramGb, minReliability, minDiskGb } = request;
  return { gpuType, region, maxHourlyUsd, numGpus, minVramGb, minReliability, minDiskGb };
}

/** A readable one-line summary of zod issues: `maxHourlyUsd: must be greater than 0; ...`. */
export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join(".");
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join("; ");
}
