/**
 * The HTTP API's dependencies in a deployment: the job dependencies plus the API's credentials,
 * read from the secret through a cache so that a key added or revoked takes effect without a
 * redeploy. Every secret value read later joins the container's redaction list — the one the
 * logger and the problem responses read — so a key added after start-up is never logged either.
 */
import { type ApiDeps, apiCredentialsFrom, cachedCredentials, weakCredentialNames } from "../api";
import type { JobDependencies } from "./job-dependencies";
import { loadSecrets, secretValues } from "./secrets";

/** How long the API trusts credentials it has read before reading the secret again. */
const CREDENTIALS_MAX_AGE_MS = 60_000;

export function apiDependencies(
  deps: JobDependencies,
  env: Record<string, string | undefined> = process.env,
): ApiDeps {
  const credentials = cachedCredentials(
    async () => {
      const secrets = await loadSecrets({ env });
      for (const value of secretValues(secrets)) {
        if (!deps.secrets.includes(value)) deps.secrets.push(value);
      }
      const loaded = apiCredentialsFrom(secrets);
      const weak = weakCredentialNames(loaded);
      if (weak.length > 0) deps.logger.warn("api: credentials too short to use are ignored", { names: weak });
      return loaded;
    },
    { clock: deps.clock, maxAgeMs: CREDENTIALS_MAX_AGE_MS },
  );
  return { ...deps, credentials, allowLocalDataset: env.ALLOW_LOCAL_DATASETS === "true" };
}
