/**
 * The HTTP API as one Hono app: the same object runs on Lambda (`hono/aws-lambda`, in
 * `functions/api.ts`), under `@hono/node-server` in the local stack, and in tests through
 * `app.request()`. Order of refusal, the same on every route: body too large (413, before any
 * byte is parsed) → credentials (401/403) → media type (415) → JSON (400) → schema (422) →
 * the command's own refusals (404/409/429). Every refusal is a problem+json response and
 * happens before anything is stored.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { errorText } from "../observability";
import type { ApiEnv } from "./auth";
import { type ApiDeps, DEFAULT_MAX_BODY_BYTES } from "./deps";
import { problemOf } from "./errors";
import { registerSecuritySchemes } from "./openapi";
import { fieldErrorsOf, problemResponse, problems } from "./problem";
import { registerInstanceRoutes } from "./routes/instances";
import { registerJobRoutes } from "./routes/jobs";
import { registerMetaRoutes } from "./routes/meta";
import { registerOfferRoutes } from "./routes/offers";

export type ApiApp = OpenAPIHono<ApiEnv>;

export function createApiApp(deps: ApiDeps): ApiApp {
  const maxBodyBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const secrets = deps.secrets ?? [];
  const app = new OpenAPIHono<ApiEnv>({
    // Path and query parameters that fail their schema (bodies are read by the handlers).
    defaultHook: (result) => {
      if (!result.success) {
        const errors = fieldErrorsOf(result.error);
        throw result.target === "json" ? problems.validation(errors) : problems.invalidParameters(errors);
      }
    },
  });

  app.onError((error, c) => {
    const { problem, internal } = problemOf(error);
    if (internal) {
      deps.logger.error("api: request failed", {
        method: c.req.method,
        route: c.req.routePath,
        status: problem.status,
        error: errorText(error),
      });
    }
    return problemResponse(problem, secrets);
  });
  app.notFound((c: Context) =>
    problemResponse(problems.notFound(`no route ${c.req.method} ${new URL(c.req.url).pathname}`), secrets),
  );

  // First of all, so no later step buffers an oversized body: Content-Length is judged at once,
  // a chunked body as it streams in.
  app.use(
    "*",
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: () => {
        throw problems.tooLarge(maxBodyBytes);
      },
    }),
  );

  registerSecuritySchemes(app);
  registerMetaRoutes(app, deps);
  registerJobRoutes(app, deps);
  registerOfferRoutes(app, deps);
  registerInstanceRoutes(app, deps);
  return app;
}
