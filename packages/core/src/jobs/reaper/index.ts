/** The poller/reaper: reconciles Vast's instances and the live jobs so no GPU bills for nothing. */
export { REAPER_ACTIONS, type ReaperAction, type ReaperActionCounts } from "./actions";
export { REAPER_LEASE, type ReaperSummary, runReaper } from "./run";
