/**
 * The system's secrets: the Vast API key, the SSH private key that reaches rented instances,
 * the Hugging Face token rented instances download gated models with, the webhook signing secrets
 * and the HTTP API's credentials. In AWS they come from one Secrets
 * Manager secret (a JSON document) through Powertools Parameters, cached for a few minutes; in
 * local runs, from the environment. Errors name what is missing, never a value.
 */
import { readFile } from "node:fs/promises";
import { SecretsProvider } from "@aws-lambda-powertools/parameters/secrets";
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { z } from "zod";

export const SecretsSchema = z.object({
  vastApiKey: z.string().min(1, "vastApiKey is missing"),
  sshPrivateKey: z.string().min(1, "sshPrivateKey is missing"),
  /**
   * Hugging Face token for templates whose model is gated (FLUX.1-dev), given to those instances
   * as `HF_TOKEN`. Absent = such jobs fail before renting. Printable, no spaces, 8 characters or
   * more (it is scrubbed from logs by 8-character pieces, and goes into a container environment).
   */
  hfToken: z
    .string()
    .regex(/^[\x21-\x7e]{8,512}$/)
    .optional(),
  /**
   * Signing secrets by purpose: `vast` verifies Vast's notification webhooks, `callbacks` signs ours.
   * `vastPrevious`, only while Vast's secret is rotated, is the one `vast` replaces: both verify.
   */
  webhookSecrets: z.record(z.string(), z.string()).default({}),
  /**
   * The HTTP API's keys by name (`{ "ops-laptop": "<key>" }`), sent as `Authorization: Bearer <key>`.
   * Several may be live at once; removing one revokes it. Absent = none (the API then refuses
   * every authenticated route). Optional rather than defaulted so a secret written before the API
   * existed reads back unchanged; the API reads absent as empty.
   */
  apiKeys: z.record(z.string(), z.string()).optional(),
  /**
   * Secrets by name that product backends sign job submissions with (`X-Vast-Rental-Signature-256`
   * on `POST /v1/jobs`); any one of them may sign, so a secret is rotated by adding the new one,
   * switching the sender, then removing the old. Absent = signed submissions are refused.
   */
  submissionSecrets: z.record(z.string(), z.string()).optional(),
});
export type Secrets = z.infer<typeof SecretsSchema>;

export class SecretsError extends Error {
  override readonly name: string = "SecretsError";
}

/**
 * The callback signing secret is also a submission secret. Callbacks and signed submissions use
 * the same headers and the same `sha256=HMAC(secret, "<timestamp>.<body>")`, so with one secret
 * both ways a captured signed submission would verify at a product's callback receiver, and a
 * captured callback at `POST /v1/jobs`. Names the secrets, never their values.
 */
export class SharedSigningSecretError extends SecretsError {
  override readonly name = "SharedSigningSecretError";
  constructor(
    /** `webhookSecrets.callbacks` and the `submissionSecrets.<name>` entries equal to it. */
    readonly secretNames: readonly string[],
  ) {
    const [callbacks, ...submissions] = secretNames;
    super(
      `${callbacks} must not be the same secret as ${submissions.join(", ")}: a signed submission would verify ` +
        "as a callback and a callback as a submission; give callbacks a secret of their own",
    );
  }
}

/** Refuses a callback signing secret that is also a submission secret (`SharedSigningSecretError`). */
export function assertSigningSecretsSeparate(secrets: Secrets): void {
  const callbacks = secrets.webhookSecrets.callbacks;
  if (!callbacks) return;
  const shared = Object.entries(secrets.submissionSecrets ?? {})
    .filter(([, value]) => value === callbacks)
    .map(([name]) => `submissionSecrets.${name}`);
  if (shared.length > 0) throw new SharedSigningSecretError(["webhookSecrets.callbacks", ...shared]);
}

/** Every secret value, for redaction. */
export function secretValues(secrets: Secrets): string[] {
  return [
    secrets.vastApiKey,
    secrets.sshPrivateKey,
    ...(secrets.hfToken ? [secrets.hfToken] : []),
    ...Object.values(secrets.webhookSecrets),
    ...Object.values(secrets.apiKeys ?? {}),
    ...Object.values(secrets.submissionSecrets ?? {}),
  ];
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

/** A JSON object from the environment; `undefined` when the variable is unset. */
function jsonObjectFromEnv(env: Record<string, string | undefined>, name: string): unknown {
  const text = env[name];
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new SecretsError(`${name} is not a JSON object`);
  }
}

/** From Secrets Manager when `SECRET_ID` is set, else from `VASTAI_API_KEY`, `VASTAI_SSH_KEY_PATH`
 * (or `VASTAI_SSH_PRIVATE_KEY`), `HF_TOKEN` (optional), and the JSON objects `WEBHOOK_SECRETS`, `API_KEYS` and
 * `SUBMISSION_SECRETS`. A callback signing secret that is also a submission secret is refused
 * (`SharedSigningSecretError`). */
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
    assertSigningSecretsSeparate(parsed.data);
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
  const parsed = SecretsSchema.safeParse({
    vastApiKey: env.VASTAI_API_KEY,
    sshPrivateKey,
    hfToken: env.HF_TOKEN || undefined,
    webhookSecrets: jsonObjectFromEnv(env, "WEBHOOK_SECRETS") ?? {},
    apiKeys: jsonObjectFromEnv(env, "API_KEYS"),
    submissionSecrets: jsonObjectFromEnv(env, "SUBMISSION_SECRETS"),
  });
  if (!parsed.success) throw new SecretsError(`environment: ${describeIssues(parsed.error)}`);
  assertSigningSecretsSeparate(parsed.data);
  return parsed.data;
}
