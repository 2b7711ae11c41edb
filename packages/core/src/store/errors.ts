/** Errors the store raises for the orchestrator to act on (not DynamoDB's own exception names). */

/** Another writer changed the record first: re-read and decide again. */
export class VersionConflictError extends Error {
  override readonly name = "VersionConflictError";
  constructor(
    readonly jobId: string,
    readonly expectedVersion: number,
  ) {
    super(`job ${jobId} is no longer at version ${expectedVersion}`);
  }
}

/** The idempotency key was used before with a different request body. */
export class IdempotencyConflictError extends Error {
  override readonly name = "IdempotencyConflictError";
  constructor(
    readonly idempotencyKey: string,
    readonly existingJobId: string,
  ) {
    super(
      `idempotency key '${idempotencyKey}' was already used for a different request (job ${existingJobId})`,
    );
  }
}

export class JobNotFoundError extends Error {
  override readonly name = "JobNotFoundError";
  constructor(readonly jobId: string) {
    super(`job ${jobId} does not exist`);
  }
}
