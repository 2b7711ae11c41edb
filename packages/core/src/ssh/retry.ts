/**
 * Which connect failures are worth another try. Vast instances report `running` before their
 * sshd accepts connections, so refused/reset/handshake-timeout are expected for a while; bad
 * credentials or a changed host key are not going to improve by waiting.
 */
import { z } from "zod";
import { backoffDelayMs } from "../retry";

export const SshRetryPolicySchema = z.object({
  attempts: z.number().int().min(1).max(100),
  baseDelayMs: z.number().int().min(0),
  maxDelayMs: z.number().int().min(0),
});
export type SshRetryPolicy = z.infer<typeof SshRetryPolicySchema>;

export const defaultSshRetry: SshRetryPolicy = { attempts: 8, baseDelayMs: 1_000, maxDelayMs: 15_000 };

const RETRYABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "ECONNABORTED",
  "EAI_AGAIN",
]);

/** ssh2 tags errors with `level` (client-socket, client-timeout, protocol, client-authentication...). */
export function isRetryableConnectError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code, level } = error as Error & { code?: string; level?: string };
  if (code && RETRYABLE_CODES.has(code)) return true;
  if (level === "client-timeout" || level === "client-socket") return true;
  // sshd closing the socket mid-handshake (MaxStartups, still booting) surfaces as a protocol error.
  if (
    level === "protocol" ||
    /before handshake|handshake failed|connection lost|timed out/i.test(error.message)
  ) {
    return true;
  }
  return false;
}

/** Exponential backoff; at least half the cap is waited, since sshd needs time to come up anyway. */
export function backoffDelay(
  policy: SshRetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  return backoffDelayMs(attempt, policy, random, { minShare: 0.5 });
}
