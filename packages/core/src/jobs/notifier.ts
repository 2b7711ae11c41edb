/**
 * Tells a job's `callbackUrl` how the job ended. The HTTP notifier posts once with a timeout and
 * never throws: a caller's broken endpoint must not fail, delay or retry the job itself (the
 * EventBridge event is the reliable channel; the callback is a courtesy).
 */
import { z } from "zod";
import { type Logger, silentLogger } from "../observability";
import type { JobRecord } from "../store";

export const JobNotificationSchema = z.object({
  jobId: z.string(),
  status: z.enum(["succeeded", "failed", "cancelled"]),
  artifact: z
    .object({ bucket: z.string(), key: z.string(), bytes: z.number(), sha256: z.string() })
    .nullable(),
  /** Everything the job cost, every rental included. */
  costUsd: z.number(),
  /** Why it ended, as recorded on the job. */
  reason: z.string().nullable(),
});
export type JobNotification = z.infer<typeof JobNotificationSchema>;

export interface Notifier {
  /** Must not throw; reports whether the endpoint accepted the notification. */
  notify(url: string, notification: JobNotification): Promise<{ delivered: boolean }>;
}

export interface HttpNotifierOptions {
  timeoutMs?: number;
  logger?: Logger;
  fetch?: typeof globalThis.fetch;
}

export class HttpNotifier implements Notifier {
  constructor(private readonly options: HttpNotifierOptions = {}) {}

  async notify(url: string, notification: JobNotification): Promise<{ delivered: boolean }> {
    const logger = this.options.logger ?? silentLogger;
    const doFetch = this.options.fetch ?? globalThis.fetch;
    // Only the origin is logged: a callback URL may carry a token in its path or query.
    const where = safeOrigin(url);
    try {
      const response = await doFetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(JobNotificationSchema.parse(notification)),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
        redirect: "error",
      });
      await response.body?.cancel().catch(() => {});
      if (!response.ok) {
        logger.warn("callback refused", {
          jobId: notification.jobId,
          callback: where,
          status: response.status,
        });
        return { delivered: false };
      }
      logger.info("callback delivered", { jobId: notification.jobId, callback: where });
      return { delivered: true };
    } catch (error) {
      logger.warn("callback failed", {
        jobId: notification.jobId,
        callback: where,
        error: error instanceof Error ? error.name : "unknown error",
      });
      return { delivered: false };
    }
  }
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid url)";
  }
}

/**
 * Sends the job's callback, if it has one, once the job has ended. Never throws: the port
 * promises as much, and a broken implementation still must not fail the job.
 */
export async function notifyJobEnded(
  deps: { notifier?: Notifier; logger: Logger },
  job: JobRecord,
  artifact: JobNotification["artifact"] = null,
): Promise<void> {
  const url = job.request.callbackUrl;
  if (!url || !deps.notifier) return;
  if (job.state !== "succeeded" && job.state !== "failed" && job.state !== "cancelled") return;
  try {
    await deps.notifier.notify(url, {
      jobId: job.jobId,
      status: job.state,
      artifact,
      costUsd: job.costUsd ?? job.spentUsd,
      reason: job.reason,
    });
  } catch (error) {
    deps.logger.warn("notifier threw", {
      jobId: job.jobId,
      error: error instanceof Error ? error.name : "unknown error",
    });
  }
}
