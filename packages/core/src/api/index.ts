/** Public face of the HTTP API: the app factory, its dependencies, and what callers sign and receive. */

export { bearerToken, matchApiKey } from "./api-keys";
export { type ApiApp, createApiApp } from "./app";
export type { ApiEnv, Principal } from "./auth";
export {
  type ApiCredentials,
  type ApiDeps,
  apiCredentialsFrom,
  cachedCredentials,
  DEFAULT_MAX_BODY_BYTES,
  MIN_CREDENTIAL_LENGTH,
  weakCredentialNames,
} from "./deps";
export { API_VERSION } from "./openapi";
export {
  ApiProblem,
  type FieldError,
  FieldErrorSchema,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_KINDS,
  type Problem,
  type ProblemKind,
  ProblemSchema,
  problemType,
} from "./problem";
export { type InstanceList, InstanceListSchema } from "./routes/instances";
export {
  IDEMPOTENCY_KEY_HEADER,
  type JobList,
  JobListSchema,
  type SubmittedJob,
  SubmittedJobSchema,
} from "./routes/jobs";
export { type OfferSearchResult, OfferSearchResultSchema } from "./routes/offers";
export {
  SUBMISSION_SIGNATURE_HEADER,
  SUBMISSION_TIMESTAMP_HEADER,
  verifySubmissionSignature,
} from "./signed-submission";
export {
  VAST_EVENT_ID_HEADER,
  VAST_SIGNATURE_HEADER,
  VAST_TIMESTAMP_HEADER,
  VastNotificationSchema,
} from "./vast-webhook";
export { type JobSummary, JobSummarySchema, type JobView, JobViewSchema } from "./views/job-view";
