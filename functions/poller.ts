/**
 * Lambda entry point of the poller/reaper: EventBridge Scheduler invokes it every minute, and it
 * may be invoked on demand (a Vast notification, an operator). One run reconciles every Vast
 * instance with the table and every live job with Vast, and returns the run's summary. A failed
 * run throws, so the next minute's run takes over.
 */
import { type ReaperDeps, type ReaperSummary, runReaper, withJobDependencies } from "@vast-rental/core";

/** The scheduler sends `{ trigger: "schedule" }`; an on-demand call may say why it runs. */
export interface PollerEvent {
  trigger?: string;
}

export type PollerHandler = (event?: PollerEvent) => Promise<ReaperSummary>;

export function createPollerHandler(deps: ReaperDeps): PollerHandler {
  return (event) =>
    runReaper(deps, { trigger: typeof event?.trigger === "string" ? event.trigger : "schedule" });
}

export const handler: PollerHandler = withJobDependencies(createPollerHandler);
