/**
 * Closing an attempt's books: price the rental (see push-billing) and charge it to the job
 * exactly once, whatever state the job is in by then. The store writes the attempt's end and the
 * job's spend together, so a redelivered message or a crash between steps never charges twice,
 * and a job that ended while its instance was being torn down still gets it on its final bill.
 */
import {
  type AttemptEnd,
  type AttemptRecord,
  type JobRecord,
  type JobStore,
  VersionConflictError,
} from "../store";
import { attemptCostUsd } from "./push-billing";

/** Concurrent transitions are rare and short; after this many the conflict is reported. */
const MAX_CONFLICTS = 5;

export interface ChargedAttempt {
  /** The job as it stands after the charge (its version moved when something was charged). */
  job: JobRecord;
  /** The attempt as ended (by this call or the first one). */
  attempt: AttemptRecord;
  /** What the attempt cost (as recorded the first time it ended). */
  costUsd: number;
  /** False when an earlier call had already ended and charged the attempt. */
  charged: boolean;
}

export async function chargeAttempt(
  deps: { store: JobStore },
  job: JobRecord,
  record: AttemptRecord,
  end: Omit<AttemptEnd, "costUsd">,
): Promise<ChargedAttempt> {
  const costUsd = attemptCostUsd(record, end.endedAt);
  let current = job;
  for (let conflicts = 0; ; conflicts++) {
    try {
      const result = await deps.store.endAttempt(current.jobId, current.version, record.attempt, {
        ...end,
        costUsd,
      });
      const { job: charged, attempt } = result;
      return { job: charged, attempt, costUsd: attempt.costUsd ?? costUsd, charged: result.charged };
    } catch (error) {
      if (!(error instanceof VersionConflictError) || conflicts >= MAX_CONFLICTS) throw error;
      const fresh = await deps.store.getJob(current.jobId);
      if (!fresh) throw error;
      current = fresh;
    }
  }
}
