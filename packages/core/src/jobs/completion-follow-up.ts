/**
 * The completion follow-up: the poller runs once a minute, so a run that ends just after one of
 * its checks would keep its GPU billing for up to a minute. When a check finds a run whose
 * estimated end (run-end.ts) falls before the poller's next run, it sends a delayed `completion`
 * message on the provision queue, timed for that end. Its handler runs the same completion check
 * for that one job, under the same `completion` lease (collect, destroy and charge happen at most
 * once, and a crash between them is finished by the next check), and while the run goes on sends
 * the next check `followUpIntervalSeconds` later, at most `followUpMaxChecks` in a chain; then the
 * poller takes over again.
 *
 * Duplicates: each check's successor is claimed once per chain (`recordOnce`) before it is sent,
 * so a message delivered twice does not fork the chain. A follow-up for a job that moved on
 * (cancelled, failed, another attempt) does nothing.
 */
import type { CompletionMessage } from "../queue";
import { type CompletionResult, checkJobTraining } from "./completion";
import { type CompletionDeps, settingsOf } from "./deps";

/** The `recordOnce` kind of a chain's sent checks. */
export const COMPLETION_FOLLOW_UP_ONCE = "completion-follow-up";
/** How long a sent check is remembered: far longer than a chain lives. */
const SENT_TTL_SECONDS = 3600;

export interface FollowUpTarget {
  jobId: string;
  attempt: number;
}

/**
 * After the poller's check of a running run: starts a follow-up chain when the run's estimated
 * end falls within the horizon (before the poller's next run). Returns the delay sent, or null.
 */
export async function scheduleCompletionFollowUp(
  deps: CompletionDeps,
  target: FollowUpTarget,
  result: CompletionResult,
): Promise<number | null> {
  if (result.action !== "running" || result.estimatedEndAt == null) return null;
  const settings = settingsOf(deps).completion;
  const now = deps.clock.now();
  const untilEndMs = result.estimatedEndAt - now;
  if (untilEndMs > settings.followUpHorizonMs) return null;
  // Timed for the estimated end; a run already at its end (saving) is looked at after the interval.
  const delaySeconds = untilEndMs > 0 ? Math.ceil(untilEndMs / 1000) : settings.followUpIntervalSeconds;
  return await send(deps, { ...target, check: 1, chain: now }, delaySeconds);
}

export type FollowUpOutcome =
  /** The job is not on this attempt's run any more (ended, cancelled, retried): nothing done. */
  | { action: "skipped"; reason: string }
  /** The check ran; `next` is the delay of the next check sent, or null (done, capped, or a duplicate). */
  | { action: "checked"; result: CompletionResult; next: number | null };

/** The provision queue's `completion` message: one completion check of one job, and maybe the next. */
export async function handleCompletionFollowUp(
  deps: CompletionDeps,
  message: CompletionMessage,
  options: { signal?: AbortSignal } = {},
): Promise<FollowUpOutcome> {
  const job = await deps.store.getJob(message.jobId);
  if (!job || job.attempt !== message.attempt || (job.state !== "training" && job.state !== "collecting")) {
    const reason = !job
      ? "job not found"
      : job.attempt !== message.attempt
        ? `job is on attempt ${job.attempt}`
        : `job is ${job.state}`;
    return { action: "skipped", reason };
  }
  const result = await checkJobTraining(
    deps,
    message.jobId,
    options.signal ? { signal: options.signal } : {},
  );
  const settings = settingsOf(deps).completion;
  // Still going (or SSH did not answer): look again soon, up to the cap. When another check holds
  // the job (a duplicate of this message, the poller), that check decides what comes next.
  const goesOn = result.action === "running" || result.action === "unreachable";
  if (!goesOn || message.check >= settings.followUpMaxChecks)
    return { action: "checked", result, next: null };
  const next = await send(
    deps,
    { jobId: message.jobId, attempt: message.attempt, check: message.check + 1, chain: message.chain },
    settings.followUpIntervalSeconds,
  );
  return { action: "checked", result, next };
}

/** Sends check `message.check` of its chain once, whoever asks; the delay sent, or null for a duplicate. */
async function send(
  deps: CompletionDeps,
  message: Omit<CompletionMessage, "type">,
  delaySeconds: number,
): Promise<number | null> {
  const id = `${message.jobId}:${message.attempt}:${message.chain}:${message.check}`;
  if (!(await deps.store.recordOnce(COMPLETION_FOLLOW_UP_ONCE, id, SENT_TTL_SECONDS))) return null;
  try {
    await deps.queue.enqueue({ type: "completion", ...message }, { delaySeconds });
  } catch (error) {
    // Not sent: let a redelivery (or the poller's next run) try again.
    await deps.store.forgetOnce(COMPLETION_FOLLOW_UP_ONCE, id).catch(() => {});
    throw error;
  }
  return delaySeconds;
}
