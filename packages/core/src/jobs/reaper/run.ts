/**
 * A reaper run — the scheduled poller's work, also started on demand (a Vast notification): one
 * paged list call reconciles every Vast instance with the table (never a request per instance),
 * then every live job is checked against it. A system-wide lease keeps overlapping runs from
 * doing the same work twice; every write is conditional besides. Each run logs one summary line.
 */
import { randomUUID } from "node:crypto";
import { type ReaperDeps, settingsOf } from "../deps";
import type { ReaperActionCounts } from "./actions";
import { newRun, type ReaperRun } from "./context";
import { isOurs, reconcileInstances } from "./instances";
import { reconcileJobs } from "./jobs";

export const REAPER_LEASE = "reaper";

export interface ReaperSummary {
  /** True when another run held the lease: this one did nothing. */
  skipped: boolean;
  /** What started the run (`schedule`, `webhook`, `manual`...), for the log. */
  trigger: string;
  instancesSeen: number;
  /** Instances carrying our label prefix. */
  ours: number;
  /** Instances without it: never touched. */
  foreign: number;
  pages: number;
  vastCalls: number;
  jobsSeen: number;
  actions: ReaperActionCounts;
  /** Actions that failed (logged; the next run tries again). */
  errors: number;
  durationMs: number;
}

export async function runReaper(
  deps: ReaperDeps,
  options: { trigger?: string } = {},
): Promise<ReaperSummary> {
  const settings = settingsOf(deps).reaper;
  const started = deps.clock.now();
  const trigger = options.trigger ?? "schedule";
  const run = newRun(deps, settings, started);
  const owner = `reaper:${randomUUID()}`;
  if (!(await deps.store.acquireSystemLease(REAPER_LEASE, owner, settings.leaseMs))) {
    deps.logger.info("reaper run skipped: another run holds the lease", { trigger });
    return summarize(run, trigger, true, 0, 0, 0, started);
  }
  try {
    let pages = 0;
    run.listedAt = deps.clock.now();
    const listed = await run.deps.vast.listInstances({ onPage: () => pages++ });
    for (const instance of listed) run.instances.set(instance.instanceId, instance);
    const ours = listed.filter(isOurs).length;
    await reconcileInstances(run);
    const jobsSeen = await reconcileJobs(run);
    const summary = summarize(run, trigger, false, pages, ours, jobsSeen, started);
    deps.logger.info("reaper run", { ...summary, actions: nonZero(summary.actions) });
    return summary;
  } finally {
    await deps.store.releaseSystemLease(REAPER_LEASE, owner);
  }
}

function summarize(
  run: ReaperRun,
  trigger: string,
  skipped: boolean,
  pages: number,
  ours: number,
  jobsSeen: number,
  started: number,
): ReaperSummary {
  return {
    skipped,
    trigger,
    instancesSeen: run.instances.size,
    ours,
    foreign: run.instances.size - ours,
    pages,
    vastCalls: run.vastCalls(),
    jobsSeen,
    actions: run.counts,
    errors: run.errors,
    durationMs: run.deps.clock.now() - started,
  };
}

function nonZero(counts: ReaperActionCounts): Partial<ReaperActionCounts> {
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
}
