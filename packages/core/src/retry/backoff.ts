/**
 * Exponential backoff with jitter, shared by every client that retries (the Vast HTTP client,
 * SSH connects): the cap for retry `n` doubles from `baseDelayMs` up to `maxDelayMs`, and the
 * delay is drawn from the upper part of it so that many clients do not retry in step.
 */

export interface BackoffPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface JitterOptions {
  /** Share of the cap always waited: 0 = full jitter (any delay up to the cap), 0.5 = "equal jitter". */
  minShare?: number;
}

/** Delay before retry number `retry` (1 = the first retry). `random` returns [0, 1); other values are clamped. */
export function backoffDelayMs(
  retry: number,
  policy: BackoffPolicy,
  random: () => number,
  options: JitterOptions = {},
): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0.5;
  const min = options.minShare ?? 0;
  return Math.floor(cap * (min + (1 - min) * unit));
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
