/**
 * The routes that need no credentials: `GET /health`, the OpenAPI document and its docs page, and
 * Vast's notification webhook (it authenticates by its signature, not by an API key).
 */

import { swaggerUI } from "@hono/swagger-ui";
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { ApiEnv } from "../auth";
import type { ApiDeps } from "../deps";
import { openApiDocument, problemResponses, VAST_WEBHOOK_SECURITY } from "../openapi";
import {
  receiveVastNotification,
  VAST_EVENT_ID_HEADER,
  VAST_SIGNATURE_HEADER,
  VAST_TIMESTAMP_HEADER,
  VastNotificationSchema,
} from "../vast-webhook";

export const HealthSchema = z.object({ status: z.literal("ok") }).openapi("Health");

export function registerMetaRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/health",
      tags: ["meta"],
      summary: "Liveness",
      description: "Answers without touching any dependency: the function is up.",
      responses: { 200: { description: "Up.", content: { "application/json": { schema: HealthSchema } } } },
    }),
    (c) => c.json({ status: "ok" as const }, 200),
  );

  const document = openApiDocument(app);
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/openapi.json",
    tags: ["meta"],
    summary: "This document (OpenAPI 3.1)",
    responses: {
      200: {
        description: "The OpenAPI document.",
        content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
      },
    },
  });
  app.get("/openapi.json", (c) => c.json(document()));
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/docs",
    tags: ["meta"],
    summary: "Browsable documentation (Swagger UI over /openapi.json)",
    responses: { 200: { description: "An HTML page.", content: { "text/html": { schema: z.string() } } } },
  });
  app.get("/docs", swaggerUI({ url: "./openapi.json", title: "vast-rental API" }));

  const vastWebhook = createRoute({
    method: "post",
    path: "/v1/webhooks/vast",
    tags: ["webhooks"],
    summary: "Vast.ai notification webhook",
    description: [
      `Verified on the raw body: \`${VAST_SIGNATURE_HEADER}\` must be \`sha256=\` + hex HMAC-SHA256 of \`<${VAST_TIMESTAMP_HEADER}>.<raw body>\``,
      "with the webhook secret (`webhookSecrets.vast`, or while it is rotated `webhookSecrets.vastPrevious`), the timestamp within 300 s.",
      "Without either secret configured, 503 with `Retry-After` (Vast retries 5xx, so no event is lost).",
      "De-duplicated on signed material only: the body's `event_id`, else a SHA-256 of the signed input (timestamp and body);",
      `\`${VAST_EVENT_ID_HEADER}\` is not signed and not read. Each new event asks the poller for a reconcile. \`webhook_test\` is accepted and not acted on.`,
    ].join(" "),
    security: VAST_WEBHOOK_SECURITY,
    request: {
      headers: z.object({
        [VAST_TIMESTAMP_HEADER]: z.string().openapi({ description: "Unix seconds." }),
        [VAST_SIGNATURE_HEADER]: z.string().openapi({ description: "`sha256=<hex>`" }),
        [VAST_EVENT_ID_HEADER]: z
          .string()
          .optional()
          .openapi({ description: "Sent by Vast; not signed, so not used (the body's `event_id` is)." }),
      }),
      body: { required: true, content: { "application/json": { schema: VastNotificationSchema } } },
    },
    responses: {
      204: { description: "Received (new, duplicate or test): nothing more to send." },
      ...problemResponses(400, 401, 413, 503),
    },
  });
  // Registered for the document; the handler verifies the raw bytes before anything parses them.
  app.openAPIRegistry.registerPath(vastWebhook);
  app.post("/v1/webhooks/vast", async (c) => {
    const outcome = await receiveVastNotification(deps, {
      body: new Uint8Array(await c.req.arrayBuffer()),
      timestamp: c.req.header(VAST_TIMESTAMP_HEADER),
      signature: c.req.header(VAST_SIGNATURE_HEADER),
    });
    deps.logger.info("api: vast notification", { outcome });
    return c.body(null, 204);
  });
}
