/**
 * What must hold between the deployment's numbers and the code's: a pure check that lists every
 * rule broken, so a test (and `sst.config.ts`, before it deploys anything) can refuse settings
 * that would, say, hand a message to a second consumer while the first still runs, or let the
 * dead-letter queue take a message the code did not yet treat as its last delivery.
 */
import {
  type DeploymentSettings,
  type FunctionSettings,
  leasesOf,
  pollerPeriodSecondsOf,
  type QueueSettings,
  type WorkQueueName,
} from "./settings";

/** The orchestration settings core runs with, as far as the deployment constrains them. */
export interface CoreJobSettingsView {
  provision: {
    leaseMs: number;
    readinessBackoffSeconds: readonly number[];
    readinessNearReadySeconds: number;
    retryPassDelaySeconds: number;
    ambiguousLookupDelaySeconds: number;
  };
  push: { leaseMs: number };
  completion: { leaseMs: number };
  reaper: { leaseMs: number; runBudgetMs: number; pushTimeoutMs: number };
}

/** The code's side of the agreement. */
export interface CoreView {
  /** The delivery the code treats as the last one, per queue (`MAX_DELIVERIES`). */
  maxDeliveries: Readonly<Record<WorkQueueName, number>>;
  /**
   * The orchestration settings in force (jobs/settings.ts: `DEFAULT_JOB_SETTINGS` fits). Absent
   * (`sst.config.ts`, which loads nothing that heavy): the leases and budget core derives from
   * `settings` are checked, and the rules about core's own delays and push time limit are skipped.
   */
  jobs?: CoreJobSettingsView;
}

export interface DeploymentViolation {
  /** Which rule (stable, for tests and logs). */
  rule: DeploymentRule;
  /** What is wrong, with the numbers. */
  message: string;
}

export type DeploymentRule =
  | "function-timeout"
  | "function-memory"
  | "visibility-timeout"
  | "max-receive-count"
  | "last-delivery"
  | "batch"
  | "max-concurrency"
  | "reserved-concurrency"
  | "teardown-margin"
  | "lease"
  | "run-budget"
  | "push-time-limit"
  | "step-deadline"
  | "queue-delay"
  | "schedule"
  | "completion-follow-up"
  | "retention";

/** Leases must outlive their function by at least this long (clock skew, the release itself). */
export const MIN_LEASE_MARGIN_SECONDS = 30;
/** A poller run must leave at least this long after its budget for the checks under way. */
export const MIN_POLLER_FINISH_SECONDS = 60;

/** Lambda's limits. */
const MAX_FUNCTION_TIMEOUT_SECONDS = 900;
const MIN_MEMORY_MB = 128;
const MAX_MEMORY_MB = 10_240;
/** SQS's limits. */
const MAX_VISIBILITY_SECONDS = 43_200;
const MAX_DELAY_SECONDS = 900;
const MIN_RETENTION_SECONDS = 60;
const MAX_RETENTION_SECONDS = 1_209_600;
/** The event source mapping's limits for SQS. */
const MAX_BATCH_WITHOUT_WINDOW = 10;
const MAX_BATCH_WITH_WINDOW = 10_000;
const MAX_BATCH_WINDOW_SECONDS = 300;
const MIN_MAX_CONCURRENCY = 2;
const MAX_MAX_CONCURRENCY = 1000;
/** How many times longer than its consumer's timeout a queue hides a message (AWS's rule). */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

type FunctionName = "api" | "provision" | "push" | "poller" | "events";

/** Every rule `settings` and `core` break; empty when they agree. */
export function checkDeploymentInvariants(
  settings: DeploymentSettings,
  core: CoreView,
): DeploymentViolation[] {
  const out: DeploymentViolation[] = [];
  const fail = (rule: DeploymentRule, message: string) => out.push({ rule, message });
  const derived = leasesOf(settings);
  const jobs = core.jobs;
  const leaseMs = {
    provision: jobs?.provision.leaseMs ?? derived.provisionLeaseMs,
    push: jobs?.push.leaseMs ?? derived.pushLeaseMs,
    completion: jobs?.completion.leaseMs ?? derived.completionLeaseMs,
    reaper: jobs?.reaper.leaseMs ?? derived.reaperLeaseMs,
  };

  const functions: Record<FunctionName, FunctionSettings> = {
    api: settings.api,
    provision: settings.provision,
    push: settings.push,
    poller: settings.poller,
    events: settings.events,
  };
  for (const [name, fn] of Object.entries(functions)) {
    if (!Number.isInteger(fn.timeoutSeconds) || fn.timeoutSeconds < 1) {
      fail(
        "function-timeout",
        `${name}: timeout ${fn.timeoutSeconds} s is not a whole number of seconds ≥ 1`,
      );
    } else if (fn.timeoutSeconds > MAX_FUNCTION_TIMEOUT_SECONDS) {
      fail("function-timeout", `${name}: timeout ${fn.timeoutSeconds} s exceeds Lambda's 900 s`);
    }
    if (!Number.isInteger(fn.memoryMb) || fn.memoryMb < MIN_MEMORY_MB || fn.memoryMb > MAX_MEMORY_MB) {
      fail("function-memory", `${name}: memory ${fn.memoryMb} MB is outside Lambda's 128–10240 MB`);
    }
  }

  const consumers = { provision: settings.provision, push: settings.push } as const;
  for (const [name, consumer] of Object.entries(consumers) as [WorkQueueName, typeof settings.provision][]) {
    checkQueue(name, consumer.queue, consumer.timeoutSeconds, core.maxDeliveries[name], fail);
    const margin = consumer.teardownMarginSeconds;
    if (!(margin > 0) || margin * 2 > consumer.timeoutSeconds) {
      fail(
        "teardown-margin",
        `${name}: teardown margin ${margin} s must be > 0 and at most half the ${consumer.timeoutSeconds} s timeout`,
      );
    }
  }
  if (settings.push.queue.batchSize !== 1) {
    fail(
      "batch",
      `push: batch size ${settings.push.queue.batchSize}; one push per invocation (each needs the whole deadline)`,
    );
  }

  const reserved = settings.push.reservedConcurrency;
  if (!Number.isInteger(reserved) || reserved < 1) {
    fail(
      "reserved-concurrency",
      `push: reserved concurrency ${reserved} must be a whole number ≥ 1 (0 disables the function)`,
    );
  }
  const pushMax = settings.push.queue.maxConcurrency;
  if (pushMax === null || pushMax > reserved) {
    fail(
      "max-concurrency",
      `push: the queue's maximum concurrency (${pushMax ?? "unlimited"}) must not exceed the reserved concurrency (${reserved}): throttled batches come back with their receive count raised`,
    );
  }

  // Leases outlive the invocation that holds them.
  const leases: [string, number, FunctionSettings, string][] = [
    ["provision lease", leaseMs.provision, settings.provision, "provision"],
    ["push lease", leaseMs.push, settings.push, "push"],
    ["completion lease", leaseMs.completion, settings.poller, "poller"],
    // Follow-up completion checks run in the provision function under the same lease.
    ["completion lease", leaseMs.completion, settings.provision, "provision"],
    ["reaper lease", leaseMs.reaper, settings.poller, "poller"],
  ];
  for (const [what, lease, fn, fnName] of leases) {
    const needMs = (fn.timeoutSeconds + MIN_LEASE_MARGIN_SECONDS) * 1000;
    if (!(lease >= needMs)) {
      fail(
        "lease",
        `${what} ${lease} ms must outlive the ${fnName} function's ${fn.timeoutSeconds} s timeout by ≥ ${MIN_LEASE_MARGIN_SECONDS} s (≥ ${needMs} ms)`,
      );
    }
  }
  if (!(settings.leaseMarginSeconds >= MIN_LEASE_MARGIN_SECONDS)) {
    fail("lease", `lease margin ${settings.leaseMarginSeconds} s is under ${MIN_LEASE_MARGIN_SECONDS} s`);
  }

  const budgetMs = jobs?.reaper.runBudgetMs ?? derived.reaperRunBudgetMs;
  const finishBy = (settings.poller.timeoutSeconds - MIN_POLLER_FINISH_SECONDS) * 1000;
  if (!(budgetMs > 0) || budgetMs > finishBy) {
    fail(
      "run-budget",
      `the poller's run budget ${budgetMs} ms must leave ≥ ${MIN_POLLER_FINISH_SECONDS} s of its ${settings.poller.timeoutSeconds} s timeout (≤ ${finishBy} ms)`,
    );
  }

  const pushLimitMs = jobs?.reaper.pushTimeoutMs ?? Number.POSITIVE_INFINITY;
  const pushDeliveriesMs = settings.push.queue.maxReceiveCount * settings.push.timeoutSeconds * 1000;
  if (!(pushLimitMs >= pushDeliveriesMs)) {
    fail(
      "push-time-limit",
      `the reaper ends a push after ${pushLimitMs} ms, before the push queue's ${settings.push.queue.maxReceiveCount} deliveries of ${settings.push.timeoutSeconds} s can run (${pushDeliveriesMs} ms)`,
    );
  }

  const d = settings.stepDeadlines;
  for (const name of ["api", "events"] as const) {
    if (!(d.vastRequestSeconds < functions[name].timeoutSeconds)) {
      fail(
        "step-deadline",
        `${name}: its ${functions[name].timeoutSeconds} s timeout does not outlive one Vast request (${d.vastRequestSeconds} s)`,
      );
    }
  }
  const pass =
    d.datasetInspectionSeconds + 2 * d.vastRequestSeconds + settings.provision.teardownMarginSeconds;
  if (pass > settings.provision.timeoutSeconds) {
    fail(
      "step-deadline",
      `provision: a pass (dataset check ${d.datasetInspectionSeconds} s + search and create ${2 * d.vastRequestSeconds} s + teardown ${settings.provision.teardownMarginSeconds} s = ${pass} s) does not fit in its ${settings.provision.timeoutSeconds} s timeout`,
    );
  }
  const callback = d.callbackTrySeconds + settings.provision.teardownMarginSeconds;
  if (callback > settings.provision.timeoutSeconds) {
    fail(
      "step-deadline",
      `provision: a callback try (${d.callbackTrySeconds} s) and teardown do not fit in its ${settings.provision.timeoutSeconds} s timeout`,
    );
  }
  for (const [what, value] of Object.entries(d)) {
    if (!(value > 0)) fail("step-deadline", `${what} ${value} must be > 0`);
  }

  const p = jobs?.provision;
  const delays: [string, number][] = p
    ? [
        ...p.readinessBackoffSeconds.map((s, i): [string, number] => [`readinessBackoffSeconds[${i}]`, s]),
        ["readinessNearReadySeconds", p.readinessNearReadySeconds],
        ["retryPassDelaySeconds", p.retryPassDelaySeconds],
        ["ambiguousLookupDelaySeconds", p.ambiguousLookupDelaySeconds],
      ]
    : [];
  for (const [what, value] of delays) {
    if (!(value >= 0 && value <= MAX_DELAY_SECONDS)) {
      fail("queue-delay", `provision.${what} ${value} s is outside SQS's 0–900 s message delay`);
    }
  }

  if (
    !/^rate\(\s*[1-9]\d*\s+(minute|minutes|hour|hours|day|days)\s*\)$|^cron\(.+\)$/.test(
      settings.poller.schedule,
    )
  ) {
    fail("schedule", `poller: schedule "${settings.poller.schedule}" is not rate(N unit) or cron(...)`);
  }

  const followUp = settings.completionFollowUp;
  const period = pollerPeriodSecondsOf(settings.poller.schedule);
  if (
    !Number.isInteger(followUp.intervalSeconds) ||
    followUp.intervalSeconds < 1 ||
    followUp.intervalSeconds > MAX_DELAY_SECONDS ||
    (period !== null && followUp.intervalSeconds >= period)
  ) {
    fail(
      "completion-follow-up",
      `completion follow-up interval ${followUp.intervalSeconds} s must be a whole number of seconds within SQS's 1–900 s message delay${period !== null ? ` and shorter than the poller's ${period} s period` : ""}`,
    );
  }
  if (!Number.isInteger(followUp.maxChecks) || followUp.maxChecks < 1) {
    fail(
      "completion-follow-up",
      `completion follow-up maxChecks ${followUp.maxChecks} must be a whole number ≥ 1`,
    );
  } else if (period !== null && followUp.intervalSeconds * followUp.maxChecks > 2 * period) {
    fail(
      "completion-follow-up",
      `a completion follow-up chain (${followUp.maxChecks} × ${followUp.intervalSeconds} s) must not outlast two poller periods (${2 * period} s): the poller takes over after it`,
    );
  }

  const retention = [
    ["queue retention", settings.queueRetentionSeconds],
    ["dead-letter retention", settings.deadLetters.retentionSeconds],
  ] as const;
  for (const [what, value] of retention) {
    if (!(value >= MIN_RETENTION_SECONDS && value <= MAX_RETENTION_SECONDS)) {
      fail("retention", `${what} ${value} s is outside SQS's 60–1209600 s`);
    }
  }
  if (!(settings.deadLetters.retentionSeconds > settings.queueRetentionSeconds)) {
    fail(
      "retention",
      `dead letters are kept ${settings.deadLetters.retentionSeconds} s, not longer than the work queues' ${settings.queueRetentionSeconds} s: a dead letter keeps its first enqueue time and could expire on arrival`,
    );
  }
  const dlqVisibility = settings.deadLetters.visibilityTimeoutSeconds;
  if (!(dlqVisibility >= 0 && dlqVisibility <= MAX_VISIBILITY_SECONDS)) {
    fail("visibility-timeout", `dead letters: visibility ${dlqVisibility} s is outside SQS's 0–43200 s`);
  }
  return out;
}

function checkQueue(
  name: WorkQueueName,
  queue: QueueSettings,
  consumerTimeoutSeconds: number,
  lastDelivery: number,
  fail: (rule: DeploymentRule, message: string) => void,
): void {
  const needed = VISIBILITY_TIMEOUT_FACTOR * consumerTimeoutSeconds + queue.batchWindowSeconds;
  if (!(queue.visibilityTimeoutSeconds >= needed)) {
    fail(
      "visibility-timeout",
      `${name}: visibility timeout ${queue.visibilityTimeoutSeconds} s is under ${VISIBILITY_TIMEOUT_FACTOR} × the consumer's ${consumerTimeoutSeconds} s timeout + its ${queue.batchWindowSeconds} s batch window (${needed} s)`,
    );
  }
  if (queue.visibilityTimeoutSeconds > MAX_VISIBILITY_SECONDS) {
    fail(
      "visibility-timeout",
      `${name}: visibility timeout ${queue.visibilityTimeoutSeconds} s exceeds SQS's 43200 s`,
    );
  }
  if (!Number.isInteger(queue.maxReceiveCount) || queue.maxReceiveCount < 1 || queue.maxReceiveCount > 1000) {
    fail("max-receive-count", `${name}: maxReceiveCount ${queue.maxReceiveCount} is outside SQS's 1–1000`);
  }
  if (queue.maxReceiveCount !== lastDelivery) {
    fail(
      "last-delivery",
      `${name}: the dead-letter queue takes a message after ${queue.maxReceiveCount} deliveries but the code's last delivery is number ${lastDelivery}`,
    );
  }
  const window = queue.batchWindowSeconds;
  if (!(window >= 0 && window <= MAX_BATCH_WINDOW_SECONDS)) {
    fail("batch", `${name}: batch window ${window} s is outside 0–300 s`);
  }
  const maxBatch = window > 0 ? MAX_BATCH_WITH_WINDOW : MAX_BATCH_WITHOUT_WINDOW;
  if (!Number.isInteger(queue.batchSize) || queue.batchSize < 1 || queue.batchSize > maxBatch) {
    fail("batch", `${name}: batch size ${queue.batchSize} is outside 1–${maxBatch}`);
  }
  const max = queue.maxConcurrency;
  if (max !== null && (!Number.isInteger(max) || max < MIN_MAX_CONCURRENCY || max > MAX_MAX_CONCURRENCY)) {
    fail("max-concurrency", `${name}: maximum concurrency ${max} is outside the event source's 2–1000`);
  }
}
