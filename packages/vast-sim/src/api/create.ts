/** Create: `PUT /api/v0/asks/{id}/` → `{success, new_contract, instance_api_key}`. */
import type { Hono } from "hono";
import { z } from "zod";
import { CreateRequestSchema } from "../create-request";
import { errors, VastHttpError } from "../errors";
import { guard, idParam, jsonBody, type RouteDeps, type SimEnv } from "./http";

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
    const { instance, errorStatus } = await deps.state.create(askId, parsed.data);
    if (errorStatus !== null) {
      // The instance exists, but the caller is told the create failed.
      throw new VastHttpError(errorStatus, errors.serverError().body);
    }
    return c.json({ success: true, new_contract: instance.id, instance_api_key: instance.apiKey });
  });
}
