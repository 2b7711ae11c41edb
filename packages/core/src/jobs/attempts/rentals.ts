/** Counting a job's rentals: every attempt that held an instance counts against `maxAttempts`. */
import type { AttemptRecord, JobRecord } from "../../store";

export function rentalsSoFar(attempts: readonly AttemptRecord[]): number {
  return attempts.filter((a) => a.instanceId !== null).length;
}

/** The final failure reason after the last attempt, listing what happened to each rental. */
export function giveUpReason(job: JobRecord, attempts: readonly AttemptRecord[]): string {
  const rented = attempts.filter((a) => a.instanceId !== null);
  const lines = rented.map(
    (a) => `attempt ${a.attempt} on machine ${a.machineId ?? "?"}: ${a.failureReason ?? "failed"}`,
  );
  return `Gave up after ${rented.length} rented GPU${rented.length === 1 ? "" : "s"} failed (limit ${job.request.maxAttempts}): ${lines.join("; ")}.`;
}
