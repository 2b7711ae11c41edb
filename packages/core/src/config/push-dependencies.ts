/**
 * Builds the push step's (and the completion check's) dependencies: everything the provisioning
 * step has, plus an S3 client (dataset sources and the artifact bucket), the SSH connector with
 * the orchestrator's private key, the dataset readers, and the HTTP callback notifier. Used once
 * per Lambda container (and by the local stack with endpoint overrides).
 */
import { S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import { datasetReaderFor } from "../dataset";
import { type CompletionDeps, HttpNotifier, type SshConnector } from "../jobs";
import { connectSsh } from "../ssh";
import { createProvisionDependencies } from "./provision-dependencies";
import { parseEnv } from "./runtime-config";
import { loadSecrets } from "./secrets";

export const PushConfigSchema = z.object({
  ARTIFACT_BUCKET: z.string().min(1),
  /** fauxqs or another S3-compatible endpoint in the local stack (path-style addressing). */
  S3_ENDPOINT: z.url().optional(),
  /** Only the local stack may read datasets from a folder on the orchestrator's disk. */
  ALLOW_LOCAL_DATASETS: z.enum(["true", "false"]).default("false"),
  /** Where jobs live on the instance (Vast images: /workspace). */
  WORKSPACE_ROOT: z.string().startsWith("/").default("/workspace"),
});
export type PushConfig = z.infer<typeof PushConfigSchema>;

export function loadPushConfig(env: Record<string, string | undefined> = process.env): PushConfig {
  return parseEnv(PushConfigSchema, env);
}

export async function createPushDependencies(
  env: Record<string, string | undefined> = process.env,
): Promise<CompletionDeps> {
  const config = loadPushConfig(env);
  const base = await createProvisionDependencies(env);
  // Cached by Powertools: this second read does not call Secrets Manager again.
  const secrets = await loadSecrets({ env });
  const s3 = new S3Client({
    ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT, forcePathStyle: true } : {}),
  });
  const ssh: SshConnector = (target) =>
    connectSsh({
      ...target,
      username: "root",
      privateKey: secrets.sshPrivateKey,
      // Bounded so a dead instance fails the delivery well inside the Lambda timeout.
      retry: { attempts: 4, baseDelayMs: 1_000, maxDelayMs: 8_000 },
      readyTimeoutMs: 20_000,
      keepaliveIntervalMs: 15_000,
      logger: base.logger,
    });
  const allowLocal = config.ALLOW_LOCAL_DATASETS === "true";
  return {
    store: base.store,
    events: base.events,
    vast: base.vast,
    queue: base.queue,
    clock: base.clock,
    logger: base.logger,
    secrets: base.secrets,
    ssh,
    datasets: (source) => datasetReaderFor(source, { s3, allowLocal }),
    s3,
    artifactBucket: config.ARTIFACT_BUCKET,
    notifier: new HttpNotifier({ timeoutMs: 5_000, logger: base.logger }),
    settings: { workspaceRoot: config.WORKSPACE_ROOT },
  };
}
