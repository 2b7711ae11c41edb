/**
 * Maps every error a route can meet to the problem it answers, told apart with `instanceof`:
 * core's typed errors (not found, idempotency conflict, bad cursor, bad request), Vast's errors
 * (its rate limiting surfaces as 429; its failures as 502/503/504, without Vast's own text,
 * which may quote what we sent it), Hono's own (`HTTPException`), and anything else as a 500
 * that says nothing but that it happened (the log has the error, redacted).
 */
import { HTTPException } from "hono/http-exception";
import { InstanceNotFoundError, JobValidationError } from "../jobs";
import { IdempotencyConflictError, InvalidCursorError, JobNotFoundError } from "../store";
import { isVastAIError, type VastAIError } from "../vast";
import { ApiProblem, type FieldError, type ProblemKind, problems } from "./problem";

/** Field errors out of a `JobValidationError`. */
export function fieldErrorsOfValidation(error: JobValidationError): FieldError[] {
  return error.issues.map((issue) => ({ path: issue.path, message: issue.message }));
}

function vastProblem(error: VastAIError): ApiProblem {
  const upstream = (kind: ProblemKind, status: number, detail: string, headers?: Record<string, string>) =>
    new ApiProblem({ kind, status, detail, headers });
  switch (error.code) {
    case "rate_limited":
      return upstream("rate-limited", 429, "Vast.ai is rate limiting this account; try again shortly", {
        "retry-after": "10",
      });
    case "not_found":
      return problems.notFound("Vast.ai has no such instance");
    case "invalid_request":
      return problems.invalidParameters([{ path: "", message: "Vast.ai refused the request as invalid" }]);
    case "timeout":
      return upstream("upstream-unavailable", 504, "Vast.ai did not answer in time");
    case "auth":
    case "insufficient_funds":
      // Our account's problem, not the caller's: the operator must look at the logs.
      return upstream(
        "upstream-unavailable",
        502,
        `Vast.ai refused this deployment's account (${error.code})`,
      );
    default:
      return upstream("upstream-unavailable", 503, "Vast.ai is unavailable; try again shortly", {
        "retry-after": "10",
      });
  }
}

function httpExceptionProblem(error: HTTPException): ApiProblem {
  switch (error.status) {
    case 400:
      return problems.malformed("the request is malformed");
    case 413:
      return problems.tooLarge();
    case 415:
      return problems.unsupportedMediaType();
    default:
      return new ApiProblem({
        kind: error.status >= 500 ? "internal-error" : "malformed-request",
        status: error.status,
        detail: error.status >= 500 ? "the request could not be handled" : "the request was refused",
      });
  }
}

/** The problem `error` answers as; `internal: true` when it is a bug or an outage worth logging. */
export function problemOf(error: unknown): { problem: ApiProblem; internal: boolean } {
  if (error instanceof ApiProblem) return { problem: error, internal: false };
  if (error instanceof JobValidationError) {
    return { problem: problems.validation(fieldErrorsOfValidation(error)), internal: false };
  }
  if (error instanceof IdempotencyConflictError) {
    return {
      problem: new ApiProblem({ kind: "idempotency-conflict", status: 409, detail: error.message }),
      internal: false,
    };
  }
  if (error instanceof JobNotFoundError)
    return { problem: problems.notFound(error.message), internal: false };
  if (error instanceof InstanceNotFoundError) {
    return { problem: problems.notFound(error.message), internal: false };
  }
  if (error instanceof InvalidCursorError) {
    return {
      problem: new ApiProblem({ kind: "invalid-cursor", status: 400, detail: error.message }),
      internal: false,
    };
  }
  if (isVastAIError(error)) {
    const problem = vastProblem(error);
    return { problem, internal: problem.status >= 500 };
  }
  if (error instanceof HTTPException) {
    const problem = httpExceptionProblem(error);
    return { problem, internal: problem.status >= 500 };
  }
  return {
    problem: new ApiProblem({
      kind: "internal-error",
      status: 500,
      detail: "the request could not be handled; the error is logged",
    }),
    internal: true,
  };
}
