/**
 * The system's secrets: the Vast API key, the SSH private key that reaches rented instances,
 * and the webhook signing secrets. In AWS they come from one Secrets Manager secret (a JSON
 * document) through Powertools Parameters, cached for a few minutes; in local runs, from the
 * environment. Errors name what is missing, never a value.
 */
import { readFile } from "node:fs/promises";
import { SecretsProvider } from "@aws-lambda-powertools/parameters/secrets";
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { z } from "zod";

export const SecretsSchema = z.object({
  vastApiKey: z.string().min(1, "vastApiKey is missing"),
  sshPrivateKey: z.string().min(1, "sshPrivateKey is missing"),
  webhookSecrets: z.record(z.string(), z.string()).default({}),
});
export type Secrets = z.infer<typeof SecretsSchema>;

export class SecretsError extends Error {
  override readonly name = "SecretsError";
}

/** Every secret value, for redaction. */
export function secretValues(secrets: Secrets): string[] {
  return [secrets.vastApiKey, secrets.sshPrivateKey, ...Object.values(secrets.webhookSecrets)];
}

/** Only the paths of what is wrong: zod's own messages may quote the received value. */
function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join(".") || "(root)"} is missing or malformed`).join("; ");
}

export interface LoadSecretsOptions {
  env?: Record<string, string | undefined>;
  /** Test or custom client for Secrets Manager. */
  client?: SecretsManagerClient;
  /** Cache lifetime in seconds (Powertools' maxAge). */
  maxAgeSeconds?: number;
}

/** One provider per client, so Powertools' cache lives as long as the Lambda container. */
const providers = new WeakMap<object, SecretsProvider>();
const DEFAULT_CLIENT_KEY = {};

function providerFor(client: SecretsManagerClient | undefined): SecretsProvider {
  const key = client ?? DEFAULT_CLIENT_KEY;
  let provider = providers.get(key);
  if (!provider) {
    provider = client ? new SecretsProvider({ awsSdkV3Client: client }) : new SecretsProvider();
    providers.set(key, provider);
  }
  return provider;
}

/** From Secrets Manager when `SECRET_ID` is set, else from `VASTAI_API_KEY`, `VASTAI_SSH_KEY_PATH`
 * (or `VASTAI_SSH_PRIVATE_KEY`) and `WEBHOOK_SECRETS` (a JSON object). */
export async function loadSecrets(options: LoadSecretsOptions = {}): Promise<Secrets> {
  const env = options.env ?? process.env;
  const secretId = env.SECRET_ID;
  if (secretId) {
    const provider = providerFor(options.client);
    let value: unknown;
    try {
      value = await provider.get(secretId, { transform: "json", maxAge: options.maxAgeSeconds ?? 300 });
    } catch (error) {
      // Powertools wraps the SDK error; its name (not its message) says what went wrong.
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      throw new SecretsError(
        `cannot read secret ${secretId}: ${cause instanceof Error ? cause.name : "unknown error"}`,
      );
    }
    const parsed = SecretsSchema.safeParse(value);
    if (!parsed.success) throw new SecretsError(`secret ${secretId}: ${describeIssues(parsed.error)}`);
    return parsed.data;
  }
  let sshPrivateKey = env.VASTAI_SSH_PRIVATE_KEY;
  if (!sshPrivateKey && env.VASTAI_SSH_KEY_PATH) {
    try {
      sshPrivateKey = await readFile(env.VASTAI_SSH_KEY_PATH, "utf8");
    } catch {
      throw new SecretsError(`cannot read the SSH private key at ${env.VASTAI_SSH_KEY_PATH}`);
    }
  }
  let webhookSecrets: unknown = {};
  if (env.WEBHOOK_SECRETS) {
    try {
      webhookSecrets = JSON.parse(env.WEBHOOK_SECRETS);
    } catch {
      throw new SecretsError("WEBHOOK_SECRETS is not a JSON object");
    }
  }
  const parsed = SecretsSchema.safeParse({ vastApiKey: env.VASTAI_API_KEY, sshPrivateKey, webhookSecrets });
  if (!parsed.success) throw new SecretsError(`environment: ${describeIssues(parsed.error)}`);
  return parsed.data;
}
