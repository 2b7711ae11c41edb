/**
 * Retry policy for reads and idempotent calls: exponential backoff with full jitter
 * (a uniformly random delay up to the exponential cap), so many clients do not retry in step.
 */
import { z } from "zod";

export const RetryPolicySchema = z.object({
  /** Total attempts including the first; 1 disables retries. */
  maxAttempts: z.number().int().min(1).max(20).default(4),
  baseDelayMs: z.number().nonnegative().default(500),
  maxDelayMs: z.number().nonnegative().default(8000),
});
export type RetryPolicy = z.output<typeof RetryPolicySchema>;
export type RetryOptions = z.input<typeof RetryPolicySchema>;

// The Vast client uses full jitter, the shared default.
export { backoffDelayMs, seededRandom } from "../retry";
