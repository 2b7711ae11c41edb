/**
 * Authentication middleware. Every `/v1` route but the Vast webhook needs an API key
 * (`Authorization: Bearer <key>`); `POST /v1/jobs` also accepts a signed submission. A valid
 * submission signature sent to any other route is a credential in the wrong place: 403. A
 * request carrying an `Authorization` header is judged by it alone.
 */
import type { Context, MiddlewareHandler } from "hono";
import { bearerToken, matchApiKey } from "./api-keys";
import type { ApiDeps } from "./deps";
import { problems } from "./problem";
import {
  SUBMISSION_SIGNATURE_HEADER,
  SUBMISSION_TIMESTAMP_HEADER,
  verifySubmissionSignature,
} from "./signed-submission";

export type Principal =
  | { kind: "api-key"; name: string }
  /** `signature` is what replays are refused on. */
  | { kind: "signed-submission"; name: string; signature: string };

export interface ApiEnv {
  Variables: { principal: Principal };
}

async function authenticate(c: Context<ApiEnv>, deps: ApiDeps, acceptSignature: boolean): Promise<Principal> {
  const authorization = c.req.header("authorization");
  const timestamp = c.req.header(SUBMISSION_TIMESTAMP_HEADER);
  const signature = c.req.header(SUBMISSION_SIGNATURE_HEADER);
  if (authorization === undefined && timestamp === undefined && signature === undefined) {
    throw problems.unauthorized(
      acceptSignature
        ? `send 'Authorization: Bearer <API key>', or sign the submission (${SUBMISSION_SIGNATURE_HEADER})`
        : "send 'Authorization: Bearer <API key>'",
    );
  }
  const credentials = await deps.credentials();
  if (authorization !== undefined) {
    const token = bearerToken(authorization);
    const name = token === null ? null : matchApiKey(token, credentials.apiKeys);
    if (name === null) throw problems.unauthorized("the API key is malformed or not valid");
    return { kind: "api-key", name };
  }
  // The signature covers the raw bytes, read here once (Hono keeps them for the handler).
  const body = new Uint8Array(await c.req.arrayBuffer());
  const verdict = verifySubmissionSignature({
    secrets: credentials.submissionSecrets,
    timestamp,
    signature,
    body,
    nowMs: deps.clock.now(),
  });
  if (!verdict.valid) throw problems.unauthorized(verdict.reason);
  if (!acceptSignature) {
    throw problems.forbidden("a submission signature is accepted only by POST /v1/jobs; use an API key");
  }
  return { kind: "signed-submission", name: verdict.secretName, signature: signature ?? "" };
}

/** Any valid API key. */
export function requireApiKey(deps: ApiDeps): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    c.set("principal", await authenticate(c, deps, false));
    await next();
  };
}

/** An API key or a signed submission (`POST /v1/jobs`). */
export function requireSubmitter(deps: ApiDeps): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    c.set("principal", await authenticate(c, deps, true));
    await next();
  };
}
