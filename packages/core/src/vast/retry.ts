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

/** Delay before retry number `retry` (1 = the first retry). `random` returns [0, 1). */
export function backoffDelayMs(retry: number, policy: RetryPolicy, random: () => number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0.5;
  return Math.floor(cap * unit);
}

/** A small seedable PRNG (mulberry32) for deterministic jitter in tests and simulations. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
