/**
 * Dependencies and tunables of the provisioning and readiness steps. Everything is passed
 * in, so the same code runs in Lambda, in the local stack and in tests with a scaled clock.
 */
import type { Clock } from "../clock";
import type { EventPublisher } from "../events";
import { type Logger, redactSecrets } from "../observability";
import type { JobQueue } from "../queue";
import type { JobStore } from "../store";
import type { SshProbe, VastPort } from "./ports";

export interface ProvisionSettings {
  /** Offers tried per provisioning pass before the job fails (offers vanish between search and rent). */
  maxOfferTries: number;
  /** A machine that failed within this window is not rented again. */
  hostFailureWindowMs: number;
  /** Delays between readiness checks while Vast has not started the instance yet; the last value repeats. */
  readinessBackoffSeconds: readonly number[];
  /** Delay between checks once the instance is loading or running but not yet reachable: it is
   * close to ready, and every second it runs unnoticed is billed (measured in test/bench/orchestration.ts). */
  readinessNearReadySeconds: number;
  /** How long one provisioning pass may hold the job (longer than the Lambda timeout). */
  leaseMs: number;
  /** Lines of the instance log kept in the timeline when an attempt fails. */
  logTailLines: number;
  /** Offers asked of the marketplace per search. */
  searchLimit: number;
  /** Creates that rented nothing (offer taken, ambiguous error with no instance) a job may
   * accumulate across passes before it fails; a pass that rents nothing searches again later. */
  maxUnrentedTries: number;
  /** Delay before the next pass after such a pass (the marketplace moves on quickly). */
  retryPassDelaySeconds: number;
}

export const DEFAULT_PROVISION_SETTINGS: ProvisionSettings = {
  maxOfferTries: 5,
  hostFailureWindowMs: 24 * 3_600_000,
  readinessBackoffSeconds: [5, 10, 20, 30],
  readinessNearReadySeconds: 3,
  leaseMs: 120_000,
  logTailLines: 50,
  searchLimit: 64,
  maxUnrentedTries: 15,
  retryPassDelaySeconds: 30,
};

export interface ProvisionDeps {
  store: JobStore;
  vast: VastPort;
  queue: JobQueue;
  events: EventPublisher;
  probe: SshProbe;
  clock: Clock;
  logger: Logger;
  settings?: Partial<ProvisionSettings>;
  /** Secret values scrubbed from diagnostics before they reach the timeline. */
  secrets?: readonly string[];
}

export function settingsOf(deps: ProvisionDeps): ProvisionSettings {
  return { ...DEFAULT_PROVISION_SETTINGS, ...deps.settings };
}

/** Scrubs the known secret values out of text bound for the store, the timeline or events. */
export function redactFor(deps: Pick<ProvisionDeps, "secrets">): (text: string) => string {
  return (text) => redactSecrets(text, deps.secrets ?? []);
}
