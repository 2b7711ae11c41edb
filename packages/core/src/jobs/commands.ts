/**
 * What other AWS services ask of the system through EventBridge (`Rental Requested`, `Rental
 * Cancel Requested`, `Instance Terminate Requested`), mapped to the same commands as the HTTP API.
 * An event that can never be applied — malformed, an invalid job request, an unknown job or
 * instance — is refused whole and sent to the dead-letter sink with the reason; nothing of it is
 * applied. A failure that may pass (the table throttling, Vast down) throws, so it is delivered
 * again. A `Rental Requested` without an idempotency key is keyed on the EventBridge event id:
 * a duplicated event never makes two jobs.
 */
import { z } from "zod";
import { CommandEventSchema } from "../events";
import type { DeadLetterSink } from "../queue";
import { IdempotencyConflictError, JobNotFoundError } from "../store";
import { CancelTooLateError, cancelJob } from "./cancel";
import type { JobDeps } from "./deps";
import { InstanceNotFoundError, terminateOurInstance } from "./instances";
import { formatIssues } from "./request";
import { JobValidationError, type SubmitDeps, submitJob } from "./submit";

/** The event cannot be applied, ever: its reason goes to the dead-letter sink. */
export class InvalidCommandError extends Error {
  override readonly name = "InvalidCommandError";
}

export type CommandOutcome =
  | { applied: "job_submitted"; jobId: string; created: boolean }
  | { applied: "job_cancelled"; jobId: string }
  | { applied: "instance_terminated"; instanceId: number }
  | { refused: string };

export interface CommandDeps extends JobDeps, Pick<SubmitDeps, "allowLocalDataset"> {
  deadLetters: DeadLetterSink;
}

const EnvelopeSchema = z.object({ id: z.string().min(1).max(200) }).loose();

export async function handleCommandEvent(deps: CommandDeps, event: unknown): Promise<CommandOutcome> {
  try {
    return await apply(deps, event);
  } catch (error) {
    if (!(error instanceof InvalidCommandError)) throw error;
    deps.logger.warn("command refused", { reason: error.message });
    await deps.deadLetters.put(event, error.message);
    return { refused: error.message };
  }
}

async function apply(deps: CommandDeps, raw: unknown): Promise<CommandOutcome> {
  const parsed = CommandEventSchema.safeParse(raw);
  if (!parsed.success)
    throw new InvalidCommandError(`not a command this system takes: ${formatIssues(parsed.error)}`);
  const command = parsed.data;
  switch (command["detail-type"]) {
    case "Rental Requested": {
      const envelope = EnvelopeSchema.safeParse(raw);
      const detail = command.detail;
      const keyed =
        detail.idempotencyKey === undefined && envelope.success
          ? { ...detail, idempotencyKey: `eventbridge-${envelope.data.id}`.slice(0, 128) }
          : detail;
      try {
        const submitted = await submitJob(deps, keyed);
        return { applied: "job_submitted", jobId: submitted.jobId, created: submitted.created };
      } catch (error) {
        if (error instanceof JobValidationError || error instanceof IdempotencyConflictError) {
          throw new InvalidCommandError(`the job request was refused: ${error.message}`);
        }
        throw error;
      }
    }
    case "Rental Cancel Requested": {
      try {
        const job = await cancelJob(
          deps,
          command.detail.jobId,
          command.detail.reason ?? "cancelled on request",
        );
        return { applied: "job_cancelled", jobId: job.jobId };
      } catch (error) {
        if (error instanceof JobNotFoundError || error instanceof CancelTooLateError)
          throw new InvalidCommandError(error.message);
        throw error;
      }
    }
    case "Instance Terminate Requested": {
      try {
        await terminateOurInstance(
          deps,
          command.detail.instanceId,
          command.detail.reason ?? "terminated on request",
        );
        return { applied: "instance_terminated", instanceId: command.detail.instanceId };
      } catch (error) {
        if (error instanceof InstanceNotFoundError) throw new InvalidCommandError(error.message);
        throw error;
      }
    }
  }
}
