/**
 * Tunables of the orchestration, grouped by step, with the defaults the deployment runs with.
 * Every one can be overridden through `deps.settings` (tests scale them down; the local stack
 * may too). Time values are in the unit their name says. The leases and the reaper's run budget
 * are derived from the function timeouts in deployment/settings.ts, which `sst.config.ts` deploys:
 * a lease must outlive the invocation holding it, whatever the timeouts become.
 */
import type { DatasetCompression } from "../dataset";
import { DEPLOYMENT, leasesOf, pollerPeriodSecondsOf } from "../deployment/settings";

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
  /** How long one provisioning pass may hold the job: the provision function's timeout plus a margin. */
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
  /** After an ambiguous create error, how long the label keeps being looked up before the attempt
   * counts as not rented and another offer may be rented. Vast usually answers a create within
   * seconds; a gateway timeout can hide a create that completes a minute later. */
  ambiguousCreateWindowMs: number;
  /** Delay between those look-ups. */
  ambiguousLookupDelaySeconds: number;
  /** Seconds each probe of the pre-flight host check may take on the instance (nvidia-smi can
   * hang on a wedged driver; importing PyTorch takes seconds). */
  preflightStepSeconds: number;
  /** The whole pre-flight exec, connection included: past it the check counts as not answered
   * (looked at again on the next readiness check), inside the provision function's timeout. */
  preflightTimeoutMs: number;
}

export interface DatasetSettings {
  /** A dataset needs at least this many images. */
  minImages: number;
  /** Share of images without a `.txt` caption above which the dataset is refused (0..1). */
  maxMissingCaptionRatio: number;
  /** Largest dataset accepted, in bytes once extracted. */
  maxBytes: number;
  /** Most files accepted. */
  maxFiles: number;
  /** Buckets the deployment may read datasets from; null = any bucket its role can read. */
  allowedBuckets: readonly string[] | null;
}

export interface PushSettings {
  /** How long one push may hold the job: the push function's timeout plus a margin. */
  leaseMs: number;
  workspaceRoot: string;
  /** Overrides the template's `image.python` (the interpreter for ai-toolkit's run.py): tests on a
   * plain sshd. Unset in deployments: the template says. */
  python?: string;
  /** Overrides the template's `image.toolkitDir` (the folder holding run.py), likewise. */
  toolkitDir?: string;
  heartbeatIntervalSeconds: number;
  compression: DatasetCompression;
  /** Minimum interval between progress log lines while pushing. */
  progressLogIntervalMs: number;
}

export interface CompletionSettings {
  /** How long one completion check may hold the job (collecting streams the artifact): the check
   * runs in the poller, so the poller's timeout plus a margin. */
  leaseMs: number;
  /** A running job whose heartbeat is older than this is considered hung. */
  staleHeartbeatSeconds: number;
  /** Progress is written to the timeline only when it moved by at least this share of the run. */
  progressRecordFraction: number;
  /** Lines of train.log kept in the timeline when a run fails. */
  logTailLines: number;
  /** Extra time past the job's deadline to finish collecting an artifact already trained. */
  collectGraceMs: number;
  /** A run that finished but whose artifact cannot be collected for this long is failed (its
   * instance would otherwise bill until the budget or the deadline). */
  collectTimeoutMs: number;
  /** A running run whose estimated end falls within this long is followed up from the provision
   * queue (the poller's period: its next run would otherwise be the one to see the end). */
  followUpHorizonMs: number;
  /** Seconds between follow-up checks while the run goes on (`DEPLOYMENT.completionFollowUp`). */
  followUpIntervalSeconds: number;
  /** Follow-up checks in one chain at most; then the poller takes over. */
  followUpMaxChecks: number;
}

export interface ReaperSettings {
  /** An instance carrying our label prefix that no job or attempt in the table knows is destroyed
   * once it has been seen this long (it may belong to a create whose records are being written). */
  orphanGraceMs: number;
  /** A job whose step shows no sign of life for this long (no lease held, no readiness check,
   * no state change) is handed its next step again. */
  stuckAfterMs: number;
  /** Time a job may spend in `pushing` before its attempt is ended: room for every delivery the
   * push queue makes (checked against the deployment by checkDeploymentInvariants). */
  pushTimeoutMs: number;
  /** Slack past the job's boot timeout before the reaper ends a boot readiness has not ended. */
  bootTimeoutSlackMs: number;
  /** Most training/collecting jobs checked over SSH in one run (the rest wait for the next run). */
  maxCompletionChecks: number;
  /** Jobs handled at once within a run. */
  concurrency: number;
  /** How long one run may hold the reaper lease, and the step leases it takes: the poller's timeout
   * plus a margin. */
  leaseMs: number;
  /** Real time a run may spend before it starts no new SSH checks: inside the poller's timeout,
   * with room to finish what is under way (`DEPLOYMENT.poller.runBudgetSeconds`). */
  runBudgetMs: number;
}

export interface CallbackSettings {
  /** A callback that cannot be delivered is tried until its event is this old. */
  maxAgeMs: number;
  /** Delay before the second try; each next one is three times longer (at most 15 minutes). */
  firstRetrySeconds: number;
}

export interface JobSettings {
  provision: ProvisionSettings;
  dataset: DatasetSettings;
  push: PushSettings;
  completion: CompletionSettings;
  reaper: ReaperSettings;
  callbacks: CallbackSettings;
}

/** Overrides as `deps.settings` takes them: any field of any group. */
export type JobSettingsOverrides = { [G in keyof JobSettings]?: Partial<JobSettings[G]> };

const LEASES = leasesOf(DEPLOYMENT);

export const DEFAULT_JOB_SETTINGS: JobSettings = {
  provision: {
    maxOfferTries: 5,
    hostFailureWindowMs: 24 * 3_600_000,
    readinessBackoffSeconds: [5, 10, 20, 30],
    readinessNearReadySeconds: 3,
    leaseMs: LEASES.provisionLeaseMs,
    logTailLines: 50,
    searchLimit: 64,
    maxUnrentedTries: 15,
    retryPassDelaySeconds: 30,
    ambiguousCreateWindowMs: 180_000,
    ambiguousLookupDelaySeconds: 20,
    preflightStepSeconds: 20,
    preflightTimeoutMs: 90_000,
  },
  dataset: {
    minImages: 1,
    maxMissingCaptionRatio: 0.5,
    maxBytes: 20 * 1024 ** 3,
    maxFiles: 100_000,
    allowedBuckets: null,
  },
  push: {
    leaseMs: LEASES.pushLeaseMs,
    workspaceRoot: "/workspace",
    heartbeatIntervalSeconds: 30,
    compression: "none",
    progressLogIntervalMs: 5_000,
  },
  completion: {
    leaseMs: LEASES.completionLeaseMs,
    staleHeartbeatSeconds: 600,
    progressRecordFraction: 0.1,
    logTailLines: 40,
    collectGraceMs: 30 * 60_000,
    collectTimeoutMs: 30 * 60_000,
    followUpHorizonMs: (pollerPeriodSecondsOf(DEPLOYMENT.poller.schedule) ?? 60) * 1000,
    followUpIntervalSeconds: DEPLOYMENT.completionFollowUp.intervalSeconds,
    followUpMaxChecks: DEPLOYMENT.completionFollowUp.maxChecks,
  },
  reaper: {
    orphanGraceMs: 600_000,
    stuckAfterMs: 5 * 60_000,
    pushTimeoutMs: 60 * 60_000,
    bootTimeoutSlackMs: 2 * 60_000,
    maxCompletionChecks: 100,
    concurrency: 8,
    leaseMs: LEASES.reaperLeaseMs,
    runBudgetMs: LEASES.reaperRunBudgetMs,
  },
  callbacks: {
    maxAgeMs: 60 * 60_000,
    firstRetrySeconds: 5,
  },
};

/** The settings in force: the defaults with `overrides` laid over them, group by group. */
export function resolveSettings(overrides: JobSettingsOverrides = {}): JobSettings {
  return {
    provision: { ...DEFAULT_JOB_SETTINGS.provision, ...overrides.provision },
    dataset: { ...DEFAULT_JOB_SETTINGS.dataset, ...overrides.dataset },
    push: { ...DEFAULT_JOB_SETTINGS.push, ...overrides.push },
    completion: { ...DEFAULT_JOB_SETTINGS.completion, ...overrides.completion },
    reaper: { ...DEFAULT_JOB_SETTINGS.reaper, ...overrides.reaper },
    callbacks: { ...DEFAULT_JOB_SETTINGS.callbacks, ...overrides.callbacks },
  };
}
