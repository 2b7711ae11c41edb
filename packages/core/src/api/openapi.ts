/**
 * The OpenAPI 3.1 document, generated from the routes' zod schemas (`@hono/zod-openapi`): the
 * security schemes, the problem responses every route shares, and the document itself, built
 * once per app and served at `/openapi.json` (a browsable page at `/docs`).
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Env } from "hono";
import { PROBLEM_CONTENT_TYPE, ProblemSchema } from "./problem";
import { SUBMISSION_SIGNATURE_HEADER, SUBMISSION_TIMESTAMP_HEADER } from "./signed-submission";
import { VAST_SIGNATURE_HEADER, VAST_TIMESTAMP_HEADER } from "./vast-webhook";

export const API_VERSION = "1.0.0";

type SecurityRequirement = Record<string, string[]>;

/** Security requirement objects, by scheme name (registered in `registerSecuritySchemes`). */
export const API_KEY_SECURITY: SecurityRequirement[] = [{ apiKey: [] }];
export const SUBMITTER_SECURITY: SecurityRequirement[] = [{ apiKey: [] }, { signedSubmission: [] }];
export const VAST_WEBHOOK_SECURITY: SecurityRequirement[] = [{ vastSignature: [] }];

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: "Malformed request: a body that is not JSON, a bad path or query parameter, a bad cursor.",
  401: "No credentials, or credentials (API key, signature) that are not valid.",
  403: "Valid credentials that this route does not accept (a submission signature on another route).",
  404: "No such resource (instances: none of ours by that id).",
  409: "Conflicts with what exists: an idempotency key used for another request, a replayed signed request, a job that already ended.",
  413: "The body is larger than the stated limit; refused before it is parsed.",
  415: "The body is not declared as JSON.",
  422: "The body does not satisfy the schema; `errors` names every field and why.",
  429: "Vast.ai is rate limiting this account; retry after `Retry-After` seconds.",
  502: "Vast.ai refused this deployment's account.",
  503: "Vast.ai, the credentials store or a secret this route needs is unavailable; retry later.",
  504: "Vast.ai did not answer in time.",
};

/** The `responses` entries for the given problem statuses, all `application/problem+json`. */
export function problemResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: PROBLEM_DESCRIPTIONS[status] ?? "A problem.",
        content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
      },
    ]),
  );
}

export function registerSecuritySchemes<E extends Env>(app: OpenAPIHono<E>): void {
  const registry = app.openAPIRegistry;
  registry.registerComponent("securitySchemes", "apiKey", {
    type: "http",
    scheme: "bearer",
    description:
      "`Authorization: Bearer <key>` with one of the named keys in the deployment's secret (`apiKeys`). Removing a key from the secret revokes it.",
  });
  registry.registerComponent("securitySchemes", "signedSubmission", {
    type: "apiKey",
    in: "header",
    name: SUBMISSION_SIGNATURE_HEADER,
    description: [
      `Job submissions only. \`${SUBMISSION_TIMESTAMP_HEADER}: <unix seconds>\` and`,
      `\`${SUBMISSION_SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>\``,
      "with one of the named `submissionSecrets`. The timestamp must be within 300 s of the server's clock;",
      "each signature is accepted once, so sign every delivery (retries included) anew. The idempotency key,",
      "if any, goes in the signed body: the `Idempotency-Key` header alone is refused (422).",
    ].join(" "),
  });
  registry.registerComponent("securitySchemes", "vastSignature", {
    type: "apiKey",
    in: "header",
    name: VAST_SIGNATURE_HEADER,
    description: `Vast.ai's notification signature: \`sha256=\` + hex HMAC-SHA256 of \`<${VAST_TIMESTAMP_HEADER}>.<raw body>\` with the webhook secret (\`webhookSecrets.vast\`, or while it is rotated \`webhookSecrets.vastPrevious\`).`,
  });
}

/**
 * zod-to-openapi writes a case-insensitive regex as `source/i`, which as a JSON Schema pattern
 * matches nothing; JSON Schema has no flags, so the pattern is given without them.
 */
function withoutRegexFlags(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutRegexFlags);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        key === "pattern" && typeof item === "string"
          ? item.replace(/\/[a-z]+$/, "")
          : withoutRegexFlags(item),
      ]),
    );
  }
  return value;
}

/** The document, generated on first use and kept: the routes do not change while the app runs. */
export function openApiDocument<E extends Env>(app: OpenAPIHono<E>): () => unknown {
  let document: unknown;
  return () => {
    document ??= withoutRegexFlags(
      app.getOpenAPI31Document({
        openapi: "3.1.0",
        info: {
          title: "vast-rental",
          version: API_VERSION,
          description: [
            "GPU rental orchestration on Vast.ai: submit training jobs, watch and cancel them, search offers, and manage the instances the system rented.",
            "Errors are RFC 9457 problems (`application/problem+json`); see the `Problem` schema.",
            "Times are epoch milliseconds; money is US dollars.",
          ].join("\n\n"),
        },
        tags: [
          { name: "jobs", description: "Training jobs." },
          { name: "offers", description: "What a job would rent, and at what price." },
          {
            name: "instances",
            description: "Instances carrying this system's label; any other is not found.",
          },
          { name: "webhooks", description: "Notifications from Vast.ai." },
          { name: "meta", description: "Health and documentation." },
        ],
      }),
    );
    return document;
  };
}
