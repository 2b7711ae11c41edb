/**
 * What the HTTP API depends on: every job command's dependencies (`JobDeps`), plus its
 * credentials and its few limits. The credentials are asked for on each request through a
 * function, so a key removed from the secret stops working once the secret is read again
 * (`cachedCredentials` bounds how long that takes) without redeploying.
 */
import type { Clock } from "../clock";
import type { Secrets } from "../config";
import type { JobDeps } from "../jobs";

/** Who may call the API, taken from the secret (see `SecretsSchema`). */
export interface ApiCredentials {
  /** API keys by name, for `Authorization: Bearer <key>`. */
  apiKeys: Readonly<Record<string, string>>;
  /** Secrets by name that may sign a job submission (`X-Vast-Rental-Signature-256`). */
  submissionSecrets: Readonly<Record<string, string>>;
  /** The secret Vast signs its notification webhooks with (`webhookSecrets.vast`); null = none set. */
  vastWebhookSecret: string | null;
  /**
   * While the Vast webhook secret is rotated, the one it replaces (`webhookSecrets.vastPrevious`):
   * a delivery signed with either is accepted. Absent or null = none.
   */
  vastWebhookPreviousSecret?: string | null;
}

export interface ApiDeps extends JobDeps {
  /** Called on every authenticated request; may be slow the first time, so cache it (`cachedCredentials`). */
  credentials: () => ApiCredentials | Promise<ApiCredentials>;
  /** Largest request body accepted, in bytes; larger ones are refused (413) before they are parsed.
   * Default `DEFAULT_MAX_BODY_BYTES`. */
  maxBodyBytes?: number;
  /** The local stack accepts `{ kind: "local" }` datasets; the cloud does not. Default false. */
  allowLocalDataset?: boolean;
  /** New job ids (tests pin them); default `newJobId`. */
  newJobId?: () => string;
}

/** A job request is a few hundred bytes; 64 KiB leaves room for ten long sample prompts and more. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/** Keys and secrets shorter than this are ignored (and named in a warning): guessable is not secret. */
export const MIN_CREDENTIAL_LENGTH = 16;

/** The API's credentials out of the system's secrets; absent maps read as empty. */
export function apiCredentialsFrom(secrets: Secrets): ApiCredentials {
  return {
    apiKeys: secrets.apiKeys ?? {},
    submissionSecrets: secrets.submissionSecrets ?? {},
    vastWebhookSecret: secrets.webhookSecrets.vast ?? null,
    vastWebhookPreviousSecret: secrets.webhookSecrets.vastPrevious ?? null,
  };
}

/** Names of the keys or secrets too short to be used. */
export function weakCredentialNames(credentials: ApiCredentials): string[] {
  const weak = (group: string, entries: Readonly<Record<string, string>>) =>
    Object.entries(entries)
      .filter(([, value]) => value.length < MIN_CREDENTIAL_LENGTH)
      .map(([name]) => `${group}.${name}`);
  return [
    ...weak("apiKeys", credentials.apiKeys),
    ...weak("submissionSecrets", credentials.submissionSecrets),
  ];
}

/**
 * Reads the credentials at most once per `maxAgeMs` (a failed read is not kept, so the next
 * request tries again). A revoked key stops working within `maxAgeMs` plus whatever cache sits
 * below (Powertools keeps the secret 5 minutes by default).
 */
export function cachedCredentials(
  load: () => Promise<ApiCredentials>,
  options: { maxAgeMs?: number; clock: Pick<Clock, "now"> },
): () => Promise<ApiCredentials> {
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  let cached: { at: number; value: Promise<ApiCredentials> } | null = null;
  return () => {
    const now = options.clock.now();
    if (!cached || now - cached.at >= maxAgeMs) {
      const value = load();
      const entry = { at: now, value };
      cached = entry;
      value.catch(() => {
        if (cached === entry) cached = null;
      });
    }
    return cached.value;
  };
}
