/** Create: `PUT /api/v0/asks/{id}/` → `{success, new_contract, instance_api_key}`. */
import type { Hono } from "hono";
import { z } from "zod";
import { CreateRequestSchema } from "../create-request";
import { errors } from "../errors";
import { guard, idParam, jsonBody, type RouteDeps, type SimEnv, serverFault } from "./http";

export function createRoutes(app: Hono<SimEnv>, deps: RouteDeps) {
  app.put("/api/v0/asks/:id", guard(deps, "create", "required"), async (c) => {
    const askId = idParam(c);
    const parsed = CreateRequestSchema.safeParse(await jsonBody(c));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw errors.invalidArgs(
        issue ? `${issue.path.join(".") || "body"}: ${issue.message}` : z.prettifyError(parsed.error),
      );
    }
    const outcome = await deps.state.create(askId, parsed.data);
    // A late create: nothing exists yet, and the instance will appear although the call failed.
    if (outcome.instance === null) return serverFault(c, outcome.errorStatus);
    const { instance, errorStatus } = outcome;
    // The instance exists, but the caller is told the create failed.
    if (errorStatus !== null) return serverFault(c, errorStatus);
    return c.json({ success: true, new_contract: instance.id, instance_api_key: instance.apiKey });
  });
}
