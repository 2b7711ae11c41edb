/**
 * Vast's rate limits apply per endpoint as a minimum interval between calls. These are the
 * endpoint groups the client limits separately, with Vast's published thresholds as defaults.
 */
export type VastEndpoint =
  | "search"
  | "create"
  | "show"
  | "list"
  | "manage"
  | "destroy"
  | "instanceSsh"
  | "accountSsh"
  | "logs"
  /** Polling a logs `result_url` (usually S3, not Vast's API). */
  | "logResult";

/** Milliseconds between two calls to the same endpoint (docs/vast-quirks.md#rate-limits-and-retries). */
export const DEFAULT_RATE_LIMITS: Readonly<Record<VastEndpoint, number>> = {
  search: 6000, // "10/minute"
  create: 4500,
  destroy: 3000,
  show: 2000,
  list: 1000,
  manage: 1000, // start / stop / label
  instanceSsh: 1000,
  accountSsh: 1000,
  logs: 1500,
  logResult: 0,
};

/** Every endpoint at 0 ms: no limiting (tests, the simulator without limits). */
export const NO_RATE_LIMITS: Readonly<Record<VastEndpoint, number>> = {
  search: 0,
  create: 0,
  destroy: 0,
  show: 0,
  list: 0,
  manage: 0,
  instanceSsh: 0,
  accountSsh: 0,
  logs: 0,
  logResult: 0,
};
