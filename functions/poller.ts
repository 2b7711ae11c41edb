/**
 * Lambda entry point of the poller/reaper: EventBridge Scheduler invokes it every minute, and the
 * bus on demand (`Reconcile Requested`: a Vast notification arrived). One run reconciles every Vast
 * instance with the table and every live job with Vast, and returns the run's summary. A failed
 * run throws, so the next minute's run takes over.
 */
import { type ReaperDeps, type ReaperSummary, runReaper, withJobDependencies } from "@vast-rental/core";

/** The scheduler sends `{ trigger: "schedule" }`; a `Reconcile Requested` event from the bus
 * carries `{ detail: { trigger } }`; a direct call may say why it runs. */
export interface PollerEvent {
  trigger?: string;
  detail?: { trigger?: string };
}

export type PollerHandler = (event?: PollerEvent) => Promise<ReaperSummary>;

export function createPollerHandler(deps: ReaperDeps): PollerHandler {
  return (event) => {
    const trigger = event?.detail?.trigger ?? event?.trigger;
    return runReaper(deps, { trigger: typeof trigger === "string" ? trigger : "schedule" });
  };
}

export const handler: PollerHandler = withJobDependencies(createPollerHandler);
