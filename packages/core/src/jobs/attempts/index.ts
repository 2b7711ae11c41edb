/** Ending rentals: the one module that destroys, charges and moves a job on after an attempt. */
export { attemptCost, attemptCostBound, storageHourlyUsd, totalCost } from "./billing";
export {
  type AfterAttempt,
  type AttemptEnding,
  AttemptEndingTakenError,
  claimedOutcome,
  type EndedAttempt,
  endAttempt,
  finishJob,
  resumeEnding,
  type TerminalEvent,
} from "./end";
export { releaseInstance, verifyDestroyed } from "./release";
export { giveUpReason, rentalsSoFar } from "./rentals";
