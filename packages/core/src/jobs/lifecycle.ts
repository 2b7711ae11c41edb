/**
 * Applying a state-machine event to a stored job: the conditional write, then the
 * "Job State Changed" announcement (bus and callback; best effort: the store is the truth).
 */
import { redactObject, redactSecrets } from "../observability";
import type { JobRecord, JobStore, TransitionOptions } from "../store";
import { type AnnounceDeps, announce } from "./announce";
import { isTerminal, type JobEvent } from "./state-machine";

export interface LifecycleDeps extends AnnounceDeps {
  store: JobStore;
  /** Secret values scrubbed from reasons and details before they are stored or published. */
  secrets?: readonly string[];
}

export async function applyEvent(
  deps: LifecycleDeps,
  job: JobRecord,
  unsafeEvent: JobEvent,
  unsafeOptions: TransitionOptions = {},
): Promise<JobRecord> {
  const secrets = deps.secrets ?? [];
  // Reasons are often built from error messages, which may quote what they were given.
  const event = { ...unsafeEvent, reason: redactSecrets(unsafeEvent.reason, secrets) };
  const options = unsafeOptions.details
    ? { ...unsafeOptions, details: redactObject(unsafeOptions.details, secrets) }
    : unsafeOptions;
  const next = await deps.store.transition(job.jobId, job.version, event, options);
  deps.logger.info("job transition", {
    jobId: job.jobId,
    from: job.state,
    to: next.state,
    event: event.type,
    reason: event.reason,
  });
  await announce(
    deps,
    next,
    {
      detailType: "Job State Changed",
      detail: {
        jobId: job.jobId,
        from: job.state,
        to: next.state,
        reason: event.reason,
        attempt: next.attempt,
        spentUsd: next.spentUsd,
        ...(isTerminal(next.state)
          ? { costUsd: next.costUsd ?? next.spentUsd, artifact: next.artifact }
          : {}),
      },
    },
    `v${next.version}`,
  );
  return next;
}
