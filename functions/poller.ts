/**
 * Lambda entry point of the poller/reaper: EventBridge Scheduler invokes it every minute, and it
 * may be invoked on demand (a Vast notification, an operator). One run reconciles every Vast
 * instance with the table and every live job with Vast; it returns the run's summary. A failed
 * run throws, so the scheduler's retry policy and the next minute's run take over.
 */
import { createJobDependencies, type ReaperDeps, type ReaperSummary, runReaper } from "@vast-rental/core";

/** The scheduler sends its own event; an on-demand call may say why it runs. */
export interface PollerEvent {
  trigger?: string;
}

export type PollerHandler = (event?: PollerEvent) => Promise<ReaperSummary>;

export function createPollerHandler(deps: ReaperDeps): PollerHandler {
  return (event) =>
    runReaper(deps, { trigger: typeof event?.trigger === "string" ? event.trigger : "schedule" });
}

let ready: Promise<PollerHandler> | undefined;

export const handler: PollerHandler = async (event) => {
  ready ??= createJobDependencies().then(createPollerHandler);
  ready.catch(() => {
    ready = undefined;
  });
  return (await ready)(event);
};
