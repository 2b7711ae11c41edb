/**
 * Lambda entry point of the HTTP API (Function URL or API Gateway v2): `hono/aws-lambda` adapts
 * the event to the same Hono app the local stack serves with `@hono/node-server`. Credentials
 * are read from the secret through a cache (a revoked key stops working within a few minutes);
 * everything else comes from the shared job dependencies.
 */
import { type ApiDeps, apiDependencies, createApiApp, withJobDependencies } from "@vast-rental/core";
import { handle } from "hono/aws-lambda";

export type ApiHandler = ReturnType<typeof handle>;

export function createApiHandler(deps: ApiDeps): ApiHandler {
  return handle(createApiApp(deps));
}

export const handler = withJobDependencies((deps) => createApiHandler(apiDependencies(deps)));
