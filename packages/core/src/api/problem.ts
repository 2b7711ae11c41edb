/**
 * Every error the API answers is an RFC 9457 problem (`application/problem+json`): a `type` URI
 * naming the kind of problem, a `title`, the HTTP `status`, a `detail` for people and, for bad
 * input, `errors` naming each field and what is wrong with it. Handlers and middleware throw
 * `ApiProblem`; the app's error handler turns it (and every other error) into the response.
 * Details are written by this code, never copied from a credential or a signature.
 */
import { z } from "@hono/zod-openapi";
import { redactObject } from "../observability";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** One field that was refused: where it is (`dataset.url`, a query parameter, a header) and why. */
export const FieldErrorSchema = z
  .object({
    path: z.string().openapi({ example: "maxHourlyUsd" }),
    message: z.string().openapi({ example: "maxHourlyUsd must be greater than 0" }),
  })
  .openapi("FieldError");
export type FieldError = z.infer<typeof FieldErrorSchema>;

/** The kinds of problem this API answers with; each is `urn:vast-rental:problem:<kind>`. */
export const PROBLEM_KINDS = [
  "malformed-request",
  "invalid-parameters",
  "invalid-cursor",
  "unauthorized",
  "forbidden",
  "not-found",
  "conflict",
  "idempotency-conflict",
  "replayed-request",
  "payload-too-large",
  "unsupported-media-type",
  "validation-failed",
  "rate-limited",
  "upstream-unavailable",
  "service-unavailable",
  "internal-error",
] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

export const problemType = (kind: ProblemKind) => `urn:vast-rental:problem:${kind}`;

export const ProblemSchema = z
  .object({
    type: z.string().openapi({
      description: "`urn:vast-rental:problem:<kind>`",
      example: problemType("validation-failed"),
    }),
    title: z.string().openapi({ example: "The request does not satisfy the schema" }),
    status: z.number().int().openapi({ example: 422 }),
    detail: z.string().openapi({ example: "maxHourlyUsd: maxHourlyUsd must be greater than 0" }),
    errors: z
      .array(FieldErrorSchema)
      .optional()
      .openapi({ description: "For bad input: every field refused, and why." }),
  })
  .openapi("Problem", { description: "RFC 9457 problem details." });
export type Problem = z.infer<typeof ProblemSchema>;

const TITLES: Record<ProblemKind, string> = {
  "malformed-request": "The request is malformed",
  "invalid-parameters": "A path or query parameter is invalid",
  "invalid-cursor": "The paging cursor is invalid",
  unauthorized: "Authentication is required",
  forbidden: "This credential may not use this route",
  "not-found": "Not found",
  conflict: "The request conflicts with the resource's state",
  "idempotency-conflict": "The idempotency key was used for a different request",
  "replayed-request": "This signed request was already received",
  "payload-too-large": "The request body is too large",
  "unsupported-media-type": "The request body must be JSON",
  "validation-failed": "The request does not satisfy the schema",
  "rate-limited": "Too many requests",
  "upstream-unavailable": "Vast.ai could not answer",
  "service-unavailable": "This deployment cannot take the request now",
  "internal-error": "Internal error",
};

export interface ApiProblemInit {
  kind: ProblemKind;
  status: number;
  detail: string;
  errors?: FieldError[];
  /** Extra response headers (`WWW-Authenticate`, `Retry-After`, `Allow`). */
  headers?: Record<string, string>;
}

/** Thrown anywhere in the app; answered as a problem+json response by the error handler. */
export class ApiProblem extends Error {
  override readonly name = "ApiProblem";
  readonly kind: ProblemKind;
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;

  constructor(init: ApiProblemInit) {
    super(init.detail);
    this.kind = init.kind;
    this.status = init.status;
    this.errors = init.errors;
    this.headers = init.headers ?? {};
  }

  toJSON(): Problem {
    return {
      type: problemType(this.kind),
      title: TITLES[this.kind],
      status: this.status,
      detail: this.message,
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

/** The response for a problem; known secret values are scrubbed from it as a last line of defence
 * (field by field, before JSON escaping could hide a secret holding quotes or newlines). */
export function problemResponse(problem: ApiProblem, secrets: readonly string[]): Response {
  return new Response(JSON.stringify(redactObject(problem.toJSON(), secrets)), {
    status: problem.status,
    headers: { "content-type": PROBLEM_CONTENT_TYPE, ...problem.headers },
  });
}

/** Shorthands for the problems most routes share. */
export const problems = {
  unauthorized: (detail: string) =>
    new ApiProblem({
      kind: "unauthorized",
      status: 401,
      detail,
      headers: { "www-authenticate": 'Bearer realm="vast-rental"' },
    }),
  forbidden: (detail: string) => new ApiProblem({ kind: "forbidden", status: 403, detail }),
  notFound: (detail: string) => new ApiProblem({ kind: "not-found", status: 404, detail }),
  malformed: (detail: string) => new ApiProblem({ kind: "malformed-request", status: 400, detail }),
  invalidParameters: (errors: FieldError[]) =>
    new ApiProblem({ kind: "invalid-parameters", status: 400, detail: summarize(errors), errors }),
  validation: (errors: FieldError[]) =>
    new ApiProblem({ kind: "validation-failed", status: 422, detail: summarize(errors), errors }),
  tooLarge: (maxBytes?: number) =>
    new ApiProblem({
      kind: "payload-too-large",
      status: 413,
      detail:
        maxBytes === undefined
          ? "the request body is too large"
          : `the request body is larger than the limit of ${maxBytes} bytes`,
    }),
  unsupportedMediaType: () =>
    new ApiProblem({
      kind: "unsupported-media-type",
      status: 415,
      detail: "send the body as JSON with 'Content-Type: application/json'",
    }),
};

/** `path: message; path: message`, as the field errors read in one line. */
export function summarize(errors: readonly FieldError[]): string {
  return errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; ");
}

/** zod issues as field errors (`training.params.steps`). */
export function fieldErrorsOf(error: z.ZodError, prefix = ""): FieldError[] {
  return error.issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter(Boolean).join("."),
    message: issue.message,
  }));
}
