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

/** A job may not end, nor start another attempt, while its latest attempt is still open. */
export class AttemptStillOpenError extends Error {
  override readonly name = "AttemptStillOpenError";
  constructor(
    readonly jobId: string,
    readonly attempt: number,
  ) {
    super(`attempt ${attempt} of job ${jobId} has not ended`);
  }
}

/** The attempt ended before its instance could be recorded: that instance belongs to nobody. */
export class AttemptEndedError extends Error {
  override readonly name = "AttemptEndedError";
  constructor(
    readonly jobId: string,
    readonly attempt: number,
    readonly instanceId: number,
  ) {
    super(`attempt ${attempt} of job ${jobId} has ended; instance ${instanceId} is not recorded on it`);
  }
}

/** The attempt's ending has begun: it takes no more changes but its ending's own. */
export class AttemptClosedError extends Error {
  override readonly name = "AttemptClosedError";
  constructor(
    readonly jobId: string,
    readonly attempt: number,
  ) {
    super(`attempt ${attempt} of job ${jobId} is ending or has ended`);
  }
}

/** A paging cursor that this store did not hand out. */
export class InvalidCursorError extends Error {
  override readonly name = "InvalidCursorError";
  constructor() {
    super("the cursor is not one this listing handed out");
  }
}

/** An attempt already holds a different instance. */
export class AttemptHoldsOtherInstanceError extends Error {
  override readonly name = "AttemptHoldsOtherInstanceError";
  constructor(
    readonly jobId: string,
    readonly attempt: number,
    readonly heldInstanceId: number | null,
    readonly refusedInstanceId: number,
  ) {
    super(
      `attempt ${attempt} of job ${jobId} already holds instance ${heldInstanceId ?? "?"}; refusing ${refusedInstanceId}`,
    );
  }
}

/** An attempt holding an instance cannot end before Vast has accepted its destroy. */
export class InstanceNotDestroyedError extends Error {
  override readonly name = "InstanceNotDestroyedError";
  constructor(
    readonly jobId: string,
    readonly attempt: number,
    readonly instanceId: number,
  ) {
    super(`attempt ${attempt} of job ${jobId} still holds instance ${instanceId}: destroy it first`);
  }
}
