/**
 * One reaper run's shared view: Vast's instance list as fetched at the start, the run's clock
 * reading, the counts of what it did, and a Vast port that counts the calls made through it.
 */
import { errorText } from "../../observability";
import type { VastInstance } from "../../vast";
import { type ReaperDeps, redactFor } from "../deps";
import type { VastPort } from "../ports";
import type { ReaperSettings } from "../settings";
import { emptyActionCounts, type ReaperAction, type ReaperActionCounts } from "./actions";

export interface ReaperRun {
  /** The reaper's dependencies, with `vast` counting its calls. */
  deps: ReaperDeps;
  settings: ReaperSettings;
  /** The clock when the run started: every age in the run is measured from it. */
  now: number;
  /** Every instance Vast listed, by id. */
  instances: Map<number, VastInstance>;
  /** When the list call started: an instance rented after it cannot be missing from it. */
  listedAt: number;
  counts: ReaperActionCounts;
  errors: number;
  vastCalls(): number;
  /** Fires when the run has used its time (`runBudgetMs`, real time): no new SSH work starts. */
  budget: AbortSignal;
}

export function count(run: ReaperRun, action: ReaperAction): void {
  run.counts[action]++;
}

export function newRun(deps: ReaperDeps, settings: ReaperSettings, now: number): ReaperRun {
  const counter = countingVast(deps.vast);
  return {
    deps: { ...deps, vast: counter.port },
    settings,
    now,
    instances: new Map(),
    listedAt: now,
    counts: emptyActionCounts(),
    errors: 0,
    vastCalls: counter.calls,
    budget: AbortSignal.timeout(settings.runBudgetMs),
  };
}

/** Wraps a Vast port so every call (every page, for the list) is counted. */
function countingVast(vast: VastPort): { port: VastPort; calls: () => number } {
  let calls = 0;
  const counted =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      calls++;
      return fn(...args);
    };
  const port: VastPort = {
    searchOffers: counted((request) => vast.searchOffers(request)),
    provisionInstance: counted((input) => vast.provisionInstance(input)),
    getInstanceStatus: counted((id) => vast.getInstanceStatus(id)),
    findInstanceByLabel: counted((label) => vast.findInstanceByLabel(label)),
    terminateInstance: counted((id, options) => vast.terminateInstance(id, options)),
    stopInstance: counted((id) => vast.stopInstance(id)),
    startInstance: counted((id) => vast.startInstance(id)),
    getInstanceLogs: counted((id, tail) => vast.getInstanceLogs(id, tail)),
    authorizeSshKey: counted((id) => vast.authorizeSshKey(id)),
    // Counted per page, not per call: a list of 100 instances is four requests.
    listInstances: (options) =>
      vast.listInstances({
        onPage: () => {
          calls++;
          options?.onPage?.();
        },
      }),
  };
  return { port, calls: () => calls };
}

/** Runs `fn` over `items`, at most `limit` at a time, isolating failures (counted, logged). */
export async function forEachLimited<T>(
  run: ReaperRun,
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
  describe: (item: T) => Record<string, unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        run.errors++;
        run.deps.logger.error("reaper action failed", {
          ...describe(item),
          error: redactFor(run.deps)(errorText(error)),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
