/** Polling for a condition in real time: the one loop tests use to wait for something to happen. */

/**
 * Calls `check` until it returns something other than `undefined`, pausing `intervalMs` between
 * calls; resolves to `undefined` once `timeoutMs` has passed (the caller asserts or throws).
 */
export async function pollUntil<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 3_000,
  intervalMs = 25,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
