/**
 * Queue messages in and out of the steps: parsing a body (a malformed one is refused with a
 * typed error), and the provision queue's dispatch, which also owns that queue's retry policy —
 * a short retry for a failure, and on a provision message's last delivery a clean end (destroy,
 * fail the job) instead of a dead letter with a GPU billing. A readiness check's or a completion
 * follow-up's last delivery hands the job to the reaper instead.
 */
import type { z } from "zod";
import { errorText } from "../observability";
import {
  type Delivery,
  type ProvisionQueueMessage,
  ProvisionQueueMessageSchema,
  retryDelaySeconds,
} from "../queue";
import { deliverCallback } from "./callbacks";
import { handleCompletionFollowUp } from "./completion-follow-up";
import { type CompletionDeps, type ProvisionDeps, redactFor } from "./deps";
import { giveUpProvisioning, JobBusyError, provisionJob } from "./provision";
import { checkReadiness } from "./readiness";

export class MalformedMessageError extends Error {
  override readonly name = "MalformedMessageError";
}

export function parseQueueBody<T extends z.ZodType>(schema: T, body: string, queue: string): z.output<T> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new MalformedMessageError(`${queue} queue message is not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new MalformedMessageError(`${queue} queue message: ${parsed.error.message}`);
  return parsed.data;
}

export function parseProvisionQueueMessage(body: string): ProvisionQueueMessage {
  return parseQueueBody(ProvisionQueueMessageSchema, body, "provision");
}

/** Seconds before a message whose job is busy is offered again. */
const BUSY_RETRY_SECONDS = 15;

export async function handleProvisionQueueMessage(
  deps: ProvisionDeps,
  message: ProvisionQueueMessage,
  delivery: Delivery,
): Promise<void> {
  if (message.type === "callback") {
    // Retries are its own (re-queued with a delay): a failure here is not the job's.
    await deliverCallback(deps, message);
    return;
  }
  if (message.type === "completion" && !canCheckCompletion(deps)) {
    // Built without SSH sessions or the artifact bucket (some tests): the poller checks the run.
    deps.logger.warn("completion follow-up dropped: no completion dependencies", { jobId: message.jobId });
    return;
  }
  try {
    if (message.type === "provision") await provisionJob(deps, message.jobId);
    else if (message.type === "completion") {
      await handleCompletionFollowUp(deps as ProvisionDeps & CompletionDeps, message, {
        signal: delivery.signal,
      });
    } else await checkReadiness(deps, message, delivery);
  } catch (error) {
    if (error instanceof JobBusyError) {
      // Whoever holds the job is working on it: nothing is lost by dropping the last delivery.
      if (delivery.isLast) return;
      await delivery.retryIn(BUSY_RETRY_SECONDS);
      throw error;
    }
    if (!delivery.isLast) {
      await delivery.retryIn(retryDelaySeconds(delivery.receiveCount));
      throw error;
    }
    if (message.type === "completion") {
      // A follow-up is an optimisation: the poller checks the run on its next run anyway.
      deps.logger.warn("completion follow-up: last delivery failed; the poller takes over", {
        jobId: message.jobId,
        attempt: message.attempt,
        error: redactFor(deps)(errorText(error)),
      });
      return;
    }
    if (message.type === "readiness") {
      // A readiness check that keeps failing (Vast's API down, say) is not the job's failure: its
      // chain stops here, and the reaper starts it again, or ends the boot at its timeout.
      deps.logger.warn("readiness check: last delivery failed; the reaper takes over", {
        jobId: message.jobId,
        attempt: message.attempt,
        error: redactFor(deps)(errorText(error)),
      });
      return;
    }
    deps.logger.error("provision: last delivery failed; ending the job", {
      jobId: message.jobId,
      error: redactFor(deps)(errorText(error)),
    });
    await giveUpProvisioning(deps, message.jobId, error);
  }
}

/** The provision function checks runs itself when it has what a completion check needs (as deployed). */
function canCheckCompletion(deps: ProvisionDeps): deps is ProvisionDeps & CompletionDeps {
  const d = deps as Partial<CompletionDeps>;
  return typeof d.ssh === "function" && d.s3 !== undefined && typeof d.artifactBucket === "string";
}
