/**
 * Lambda entry point of the HTTP API (Function URL or API Gateway v2): `hono/aws-lambda` adapts
 * the event to the same Hono app the local stack serves with `@hono/node-server`. Credentials
 * are read from the secret through a cache (a revoked key stops working within a few minutes);
 * everything else comes from the shared job dependencies.
 */
import {
  type ApiDeps,
  apiCredentialsFrom,
  cachedCredentials,
  createApiApp,
  type JobDeps,
  loadSecrets,
  weakCredentialNames,
  withJobDependencies,
} from "@vast-rental/core";
import { handle } from "hono/aws-lambda";

export type ApiHandler = ReturnType<typeof handle>;

export function createApiHandler(deps: ApiDeps): ApiHandler {
  return handle(createApiApp(deps));
}

/** The API's dependencies from the job dependencies and the environment. */
export function apiDepsFrom(deps: JobDeps, env: Record<string, string | undefined> = process.env): ApiDeps {
  const credentials = cachedCredentials(
    async () => {
      const loaded = apiCredentialsFrom(await loadSecrets({ env }));
      const weak = weakCredentialNames(loaded);
      if (weak.length > 0) deps.logger.warn("api: credentials too short to use are ignored", { names: weak });
      return loaded;
    },
    { clock: deps.clock, maxAgeMs: 60_000 },
  );
  return { ...deps, credentials, allowLocalDataset: env.ALLOW_LOCAL_DATASETS === "true" };
}

export const handler = withJobDependencies((deps) => createApiHandler(apiDepsFrom(deps)));
