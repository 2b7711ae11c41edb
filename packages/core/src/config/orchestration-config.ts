/**
 * The orchestration's settings that an operator sets per deployment, read once from the
 * environment (SST sets them; the local stack too). Everything else has a default in
 * jobs/settings.ts. Holds no secrets.
 */
import { z } from "zod";
import type { JobSettingsOverrides } from "../jobs";
import { parseEnv } from "./runtime-config";

const PositiveInt = z.coerce.number().int().positive();

export const OrchestrationConfigSchema = z.object({
  ARTIFACT_BUCKET: z.string().min(1),
  /** fauxqs or another S3-compatible endpoint in the local stack (path-style addressing). */
  S3_ENDPOINT: z.url().optional(),
  /** Only the local stack may read datasets from a folder on the orchestrator's disk. */
  ALLOW_LOCAL_DATASETS: z.enum(["true", "false"]).default("false"),
  /** Where jobs live on the instance (Vast images: /workspace). */
  WORKSPACE_ROOT: z.string().startsWith("/").default("/workspace"),
  /** An instance with our label prefix that no job knows is destroyed after this many seconds. */
  ORPHAN_GRACE_SECONDS: PositiveInt.default(600),
  /** Comma-separated buckets datasets may come from; unset or "*" = any bucket the role can read. */
  DATASET_BUCKETS: z
    .string()
    .optional()
    .transform((value) =>
      value === undefined || value.trim() === "" || value.trim() === "*"
        ? null
        : value
            .split(",")
            .map((b) => b.trim())
            .filter(Boolean),
    ),
  /** Largest dataset accepted, in bytes once extracted. */
  DATASET_MAX_BYTES: PositiveInt.optional(),
  /** Most files a dataset may hold. */
  DATASET_MAX_FILES: PositiveInt.optional(),
  /** Comma-separated hosts that datasets and callbacks may reach although they are not public
   * (the local stack's loopback receivers); unset = none: no loopback, no private address. */
  OUTBOUND_ALLOW_HOSTS: z.string().optional(),
});
export type OrchestrationConfig = z.infer<typeof OrchestrationConfigSchema>;

export function loadOrchestrationConfig(
  env: Record<string, string | undefined> = process.env,
): OrchestrationConfig {
  return parseEnv(OrchestrationConfigSchema, env);
}

/** The overrides of jobs/settings.ts this configuration makes. */
export function settingsFromConfig(config: OrchestrationConfig): JobSettingsOverrides {
  return {
    push: { workspaceRoot: config.WORKSPACE_ROOT },
    reaper: { orphanGraceMs: config.ORPHAN_GRACE_SECONDS * 1000 },
    dataset: {
      allowedBuckets: config.DATASET_BUCKETS,
      ...(config.DATASET_MAX_BYTES ? { maxBytes: config.DATASET_MAX_BYTES } : {}),
      ...(config.DATASET_MAX_FILES ? { maxFiles: config.DATASET_MAX_FILES } : {}),
    },
  };
}
