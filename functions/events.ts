/**
 * Lambda entry point of the EventBridge subscriber: `Rental Requested`, `Rental Cancel Requested`
 * and `Instance Terminate Requested` events, mapped by core to the same commands as the HTTP API.
 * An event that can never apply goes to the subscriber's dead-letter queue with its reason; a
 * failure that may pass throws, and the invocation is retried.
 */
import {
  type CommandDeps,
  type CommandOutcome,
  commandDeadLetters,
  handleCommandEvent,
  withJobDependencies,
} from "@vast-rental/core";

export type EventsHandler = (event: unknown) => Promise<CommandOutcome>;

export function createEventsHandler(deps: CommandDeps): EventsHandler {
  return (event) => handleCommandEvent(deps, event);
}

export const handler: EventsHandler = withJobDependencies((deps) =>
  createEventsHandler({ ...deps, deadLetters: commandDeadLetters() }),
);
