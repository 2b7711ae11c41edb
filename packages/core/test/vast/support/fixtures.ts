/** Shared test helpers: a client wired to a scripted server with tiny delays, and a virtual clock. */
import type { Clock } from "../../../src/clock";
import { createRecordingLogger } from "../../../src/observability";
import { NO_RATE_LIMITS, seededRandom, VastAIClient, type VastAIClientOptions } from "../../../src/vast";
import type { ScriptedServer } from "./scripted-server";

/** Looks like a real key and is long enough for redaction to apply. */
export const TEST_API_KEY = "vk-test-5f1c0e9a7b3d4c2e8f6a1b0c9d8e7f6a";

export function testClient(server: ScriptedServer, overrides: Partial<VastAIClientOptions> = {}) {
  const logger = createRecordingLogger();
  const client = new VastAIClient({
    apiKey: TEST_API_KEY,
    baseUrl: server.url,
    timeoutMs: 1000,
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 4 },
    rateLimits: NO_RATE_LIMITS,
    random: seededRandom(42),
    logger,
    logs: { pollIntervalMs: 1, maxPolls: 5 },
    ...overrides,
  });
  return { client, logger };
}

/** A clock whose sleeps return at once and move virtual time forward; every sleep is recorded. */
export function virtualClock(start = 1_700_000_000_000): Clock & { sleeps: number[] } {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms, signal) => {
      signal?.throwIfAborted();
      sleeps.push(ms);
      now += ms;
    },
  };
}

/** Runs `fn`, expecting it to reject, and returns the rejection. */
export async function failure(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}
