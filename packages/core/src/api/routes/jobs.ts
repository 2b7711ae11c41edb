/**
 * `/v1/jobs`: submit (API key or signed submission), list, read one, cancel. Submission reads
 * the raw body itself (signatures cover the bytes) and leaves validation to `submitJob`, the
 * one validator intake has; everything else is validated from its zod schema by the route.
 */

import { createHash } from "node:crypto";
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  CancelTooLateError,
  cancelJob,
  isTerminal,
  JobRequestSchema,
  JobStateSchema,
  submitJob,
  validateJobRequest,
} from "../../jobs";
import { redactObject } from "../../observability";
import { InvalidCursorError, JobNotFoundError, type JobStore } from "../../store";
import { type ApiEnv, type Principal, requireApiKey, requireSubmitter } from "../auth";
import type { ApiDeps } from "../deps";
import { isJsonMediaType, parseJsonBytes, readJsonBody } from "../json-body";
import { API_KEY_SECURITY, problemResponses, SUBMITTER_SECURITY } from "../openapi";
import { JobIdParamSchema, queryNumber } from "../params";
import { ApiProblem, fieldErrorsOf, problems } from "../problem";
import {
  SUBMISSION_REPLAY_KIND,
  SUBMISSION_REPLAY_TTL_SECONDS,
  SUBMISSION_SIGNATURE_HEADER,
  SUBMISSION_TIMESTAMP_HEADER,
} from "../signed-submission";
import { JobRequestView, JobSummarySchema, JobViewSchema, jobSummary, jobView } from "../views/job-view";

export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";

const IdempotencyKeySchema = JobRequestSchema.shape.idempotencyKey.unwrap();

export const SubmittedJobSchema = z
  .object({
    jobId: z.string(),
    status: JobStateSchema,
    created: z.boolean().openapi({
      description:
        "False when the idempotency key matched an earlier identical submission: that job is answered.",
    }),
  })
  .openapi("SubmittedJob");
export type SubmittedJob = z.infer<typeof SubmittedJobSchema>;

export const JobListSchema = z
  .object({
    jobs: z.array(JobSummarySchema),
    nextCursor: z
      .string()
      .nullable()
      .openapi({ description: "Pass as `cursor` for the next page; null on the last." }),
  })
  .openapi("JobList");
export type JobList = z.infer<typeof JobListSchema>;

export const CancelRequestSchema = z
  .object({ reason: z.string().trim().min(1).max(500).optional() })
  .strict()
  .openapi("CancelRequest");

const ListJobsQuerySchema = z.object({
  state: z
    .string()
    .max(200)
    .transform((text) => text.split(",").map((s) => s.trim()))
    .pipe(z.array(JobStateSchema).min(1))
    .optional()
    .openapi({
      description: "Only jobs in these states, comma-separated (default: every state, active ones first).",
      example: "queued,training",
    }),
  limit: queryNumber(z.number().int().min(1).max(100).default(25)),
  cursor: z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .openapi({ description: "From the previous page's `nextCursor`." }),
});

/**
 * Merges the `Idempotency-Key` header into the body: when both are given they must agree. With
 * `signed`, the header alone is refused: it is not covered by the signature, so whoever saw a
 * signed request could resend it under a key of their choosing; a signed submission carries its
 * key in the signed body (the header may repeat it).
 */
export function withIdempotencyKey(
  body: unknown,
  header: string | undefined,
  options: { signed?: boolean } = {},
): unknown {
  if (header === undefined) return body;
  const key = IdempotencyKeySchema.safeParse(header);
  if (!key.success) throw problems.validation(fieldErrorsOf(key.error, IDEMPOTENCY_KEY_HEADER));
  if (!body || typeof body !== "object" || Array.isArray(body)) return body; // the schema refuses it
  const given = (body as { idempotencyKey?: unknown }).idempotencyKey;
  if (given === undefined && options.signed) {
    throw problems.validation([
      {
        path: "idempotencyKey",
        message: `a signed submission must carry its idempotency key in the signed body; the ${IDEMPOTENCY_KEY_HEADER} header is not signed`,
      },
    ]);
  }
  if (given !== undefined && given !== key.data) {
    throw problems.validation([
      {
        path: "idempotencyKey",
        message: `differs from the ${IDEMPOTENCY_KEY_HEADER} header; send the key once, or the same in both`,
      },
    ]);
  }
  return { ...body, idempotencyKey: key.data };
}

/** `store`, noting whether a `createJob` through it returned (a job was stored, or found by its key). */
function watchCreateJob(store: JobStore): { store: JobStore; stored: () => boolean } {
  let stored = false;
  const watched = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === "createJob") {
        return async (...args: Parameters<JobStore["createJob"]>) => {
          const result = await target.createJob(...args);
          stored = true;
          return result;
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { store: watched, stored: () => stored };
}

function auditedReason(reason: string | undefined, principal: Principal, fallback: string): string {
  return `${reason ?? fallback} (API key "${principal.name}")`;
}

export function registerJobRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const submit = createRoute({
    method: "post",
    path: "/v1/jobs",
    tags: ["jobs"],
    summary: "Submit a training job",
    description: [
      "Validates the request, stores the job and queues its provisioning; answers before anything is rented.",
      `An idempotency key (the \`${IDEMPOTENCY_KEY_HEADER}\` header or the body's \`idempotencyKey\`; when both are sent they must be equal) makes resubmission safe:`,
      "the same key with the same request answers the same job (`created: false`); with a different request, 409.",
      "The header is not signed, so a signed submission must carry its key in the body (422 otherwise).",
      `Authenticate with an API key, or sign the request (\`${SUBMISSION_TIMESTAMP_HEADER}\`, \`${SUBMISSION_SIGNATURE_HEADER}\`).`,
    ].join(" "),
    security: SUBMITTER_SECURITY,
    request: {
      headers: z.object({
        [IDEMPOTENCY_KEY_HEADER]: IdempotencyKeySchema.optional(),
        [SUBMISSION_TIMESTAMP_HEADER]: z
          .string()
          .optional()
          .openapi({ description: "Signed submissions: unix seconds." }),
        [SUBMISSION_SIGNATURE_HEADER]: z.string().optional().openapi({
          description: 'Signed submissions: `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`.',
        }),
      }),
      body: { required: true, content: { "application/json": { schema: JobRequestView } } },
    },
    responses: {
      202: {
        description: "Accepted: the job is queued (or, for a repeated idempotency key, the earlier job).",
        headers: z.object({ Location: z.string().openapi({ example: "/v1/jobs/job_mc1x2y3z4a5b6c7d8e9f" }) }),
        content: { "application/json": { schema: SubmittedJobSchema } },
      },
      ...problemResponses(400, 401, 409, 413, 415, 422, 503),
    },
  });
  // Registered for the document only: the handler below reads the raw body, which route
  // validation would parse first, and validation is `submitJob`'s.
  app.openAPIRegistry.registerPath(submit);
  app.post("/v1/jobs", requireSubmitter(deps), async (c) => {
    const principal = c.get("principal");
    const signed = principal.kind === "signed-submission";
    const body = withIdempotencyKey(await readJsonBody(c), c.req.header(IDEMPOTENCY_KEY_HEADER), { signed });
    if (principal.kind !== "signed-submission") {
      const result = await submitJob(deps, body);
      return submitted(c, result, principal);
    }
    // Validated before the signature is recorded as used: a refused request stores nothing.
    // With the intake options `submitJob` takes from the same deps, so both judge alike.
    const request = validateJobRequest(body, deps);
    const fingerprint = createHash("sha256").update(principal.signature).digest("hex");
    if (!(await deps.store.recordOnce(SUBMISSION_REPLAY_KIND, fingerprint, SUBMISSION_REPLAY_TTL_SECONDS))) {
      throw new ApiProblem({
        kind: "replayed-request",
        status: 409,
        detail: "this signed submission was already received; sign each delivery anew",
      });
    }
    const created = watchCreateJob(deps.store);
    try {
      const result = await submitJob({ ...deps, store: created.store }, body);
      return submitted(c, result, principal);
    } catch (error) {
      // The submission failed, so the same delivery may come back: un-spend its signature, unless
      // a job may already exist that a retry could not find again. With an idempotency key a
      // retry answers that job; without one, once the job is stored (the queue failing after it),
      // a retry would store a second job, and the reaper re-queues the first anyway.
      if (request.idempotencyKey !== undefined || !created.stored()) {
        await deps.store.forgetOnce(SUBMISSION_REPLAY_KIND, fingerprint).catch((forgetError: unknown) => {
          deps.logger.error("api: a failed signed submission's signature could not be released", {
            error: forgetError,
          });
        });
      }
      throw error;
    }
  });

  function submitted(
    c: Context<ApiEnv>,
    result: Awaited<ReturnType<typeof submitJob>>,
    principal: Principal,
  ): Response {
    deps.logger.info("api: job submitted", {
      jobId: result.jobId,
      created: result.created,
      by: principal.name,
    });
    c.header("location", `/v1/jobs/${encodeURIComponent(result.jobId)}`);
    return c.json({ jobId: result.jobId, status: result.status, created: result.created }, 202);
  }

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/jobs",
      tags: ["jobs"],
      summary: "List jobs",
      description:
        "Newest first within each state; active states first when no state is given. Cursor paging.",
      security: API_KEY_SECURITY,
      middleware: requireApiKey(deps),
      request: { query: ListJobsQuerySchema },
      responses: {
        200: { description: "A page of jobs.", content: { "application/json": { schema: JobListSchema } } },
        ...problemResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const { state, limit, cursor } = c.req.valid("query");
      let page: Awaited<ReturnType<typeof deps.store.listJobs>>;
      try {
        page = await deps.store.listJobs({ states: state, limit, cursor });
      } catch (error) {
        // A cursor that decodes but names no real position makes DynamoDB refuse the query.
        if (cursor !== undefined && error instanceof Error && error.name === "ValidationException") {
          throw new InvalidCursorError();
        }
        throw error;
      }
      return c.json({ jobs: page.jobs.map(jobSummary), nextCursor: page.cursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/jobs/{id}",
      tags: ["jobs"],
      summary: "Read a job",
      description:
        "State and reason, every attempt, the instance held now, cost so far (the open attempt priced as Vast bills it) with its breakdown, training progress and the timeline.",
      security: API_KEY_SECURITY,
      middleware: requireApiKey(deps),
      request: { params: JobIdParamSchema },
      responses: {
        200: { description: "The job.", content: { "application/json": { schema: JobViewSchema } } },
        ...problemResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const [job, attempts, timeline] = await Promise.all([
        deps.store.getJob(id),
        deps.store.listAttempts(id),
        deps.store.getTimeline(id),
      ]);
      if (!job) throw new JobNotFoundError(id);
      const view = jobView(job, attempts, timeline, deps.clock.now());
      return c.json(redactObject(view, deps.secrets ?? []), 200);
    },
  );

  const cancel = createRoute({
    method: "post",
    path: "/v1/jobs/{id}/cancel",
    tags: ["jobs"],
    summary: "Cancel a job",
    description:
      "Ends the job through the one teardown path: its instance is destroyed and its cost charged before it reads `cancelled`. A job that has ended, or whose LoRA is already stored (it is ending as succeeded), answers 409. The body is optional.",
    security: API_KEY_SECURITY,
    middleware: requireApiKey(deps),
    request: {
      params: JobIdParamSchema,
      body: { required: false, content: { "application/json": { schema: CancelRequestSchema } } },
    },
    responses: {
      200: { description: "The job, ended.", content: { "application/json": { schema: JobSummarySchema } } },
      ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422),
    },
  });
  // The document shows the optional body; the handler reads it (an empty body is no body), so
  // the route itself validates only the path.
  app.openAPIRegistry.registerPath(cancel);
  app.openapi({ ...cancel, request: { params: JobIdParamSchema }, hide: true }, async (c) => {
    const { id } = c.req.valid("param");
    const { reason } = await readCancelBody(c);
    const job = await deps.store.getJob(id);
    if (!job) throw new JobNotFoundError(id);
    if (isTerminal(job.state)) {
      throw new ApiProblem({
        kind: "conflict",
        status: 409,
        detail: `job ${id} has already ended (${job.state})`,
      });
    }
    try {
      const ended = await cancelJob(
        deps,
        id,
        auditedReason(reason, c.get("principal"), "cancelled through the API"),
      );
      return c.json(jobSummary(ended), 200);
    } catch (error) {
      if (!(error instanceof CancelTooLateError)) throw error;
      throw new ApiProblem({ kind: "conflict", status: 409, detail: error.message });
    }
  });
}

async function readCancelBody(c: Context): Promise<z.infer<typeof CancelRequestSchema>> {
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (bytes.length === 0) return {};
  if (!isJsonMediaType(c.req.header("content-type"))) throw problems.unsupportedMediaType();
  const parsed = CancelRequestSchema.safeParse(parseJsonBytes(bytes));
  if (!parsed.success) throw problems.validation(fieldErrorsOf(parsed.error));
  return parsed.data;
}
