/**
 * The numbers the infrastructure and the code must agree on, in one place: each function's
 * timeout and memory, each queue's visibility timeout, batch and redrive count, the push
 * function's concurrency, the poller's schedule, and the step deadlines that have to fit inside
 * those timeouts. `sst.config.ts` builds the deployment from them; core derives its leases, its
 * "last delivery" and its step deadlines from them (see `leasesOf`, `maxDeliveriesOf` and
 * jobs/settings.ts), and `checkDeploymentInvariants` says when two of them stop agreeing.
 *
 * Durations are in seconds and sizes in MB, as their names say; `seconds()` and `megabytes()`
 * turn them into SST's strings. This module imports nothing, so `sst.config.ts` can load it alone.
 */

/** The queues the work steps travel on (the same names as `QueueName` in queue/messages.ts). */
export type WorkQueueName = "provision" | "push";

/** One Lambda function's size. */
export interface FunctionSettings {
  /**
   * How long one invocation may run before Lambda stops it, in seconds (Lambda allows 1–900).
   * Every lease the code takes for the function's work is derived from it (it must outlive the
   * invocation), and every queue the function consumes hides a message for at least six times it.
   */
  timeoutSeconds: number;
  /**
   * Memory in MB (Lambda allows 128–10240). CPU share and network bandwidth grow with it, which is
   * what the SSH and S3 streaming functions pay for.
   */
  memoryMb: number;
}

/** How a work queue delivers its messages to the function that consumes it. */
export interface QueueSettings {
  /**
   * How long a received message stays hidden, in seconds (SQS allows up to 43,200). AWS asks for
   * at least six times the consumer's timeout (plus its batch window): a batch Lambda takes but
   * cannot run (throttled) is retried within that time without the message coming back early. A
   * step that fails asks for a short retry itself (ChangeMessageVisibility), so this long wait
   * only applies to an invocation that died without answering.
   */
  visibilityTimeoutSeconds: number;
  /**
   * Deliveries before the dead-letter queue takes the message (the redrive policy's
   * `maxReceiveCount`). The code treats the delivery with this receive count as the last one and
   * cleans up instead of throwing (destroys the instance, ends the attempt), so no message reaches
   * the dead-letter queue while a GPU bills: the two numbers must be the same (`MAX_DELIVERIES`).
   */
  maxReceiveCount: number;
  /** Most messages per invocation (1–10 without a batch window; Lambda allows more with one). */
  batchSize: number;
  /** How long Lambda gathers messages before invoking, in seconds (0–300); 0 = invoke at once. */
  batchWindowSeconds: number;
  /**
   * Most invocations the queue's event source runs at once (`ScalingConfig.MaximumConcurrency`,
   * 2–1000), or null for no limit of its own. With a function's reserved concurrency it must not
   * exceed that reservation: batches the event source takes beyond it are throttled and come back
   * after the visibility timeout with their receive count raised — a wasted delivery.
   */
  maxConcurrency: number | null;
}

/** A function fed by a work queue with partial batch responses. */
export interface QueueConsumerSettings extends FunctionSettings {
  queue: QueueSettings;
  /**
   * Time kept back from the invocation's deadline for cleaning up, in seconds: the step's abort
   * signal fires this long before Lambda would stop the function, leaving room to destroy an
   * instance and record why (the handler's `teardownMarginMs`).
   */
  teardownMarginSeconds: number;
}

/** The push function: a queue consumer with capacity of its own. */
export interface PushFunctionSettings extends QueueConsumerSettings {
  /**
   * Concurrent executions reserved for the push function (Lambda's reserved concurrency, ≥ 1). It
   * caps how many datasets stream at once — each push holds a rented GPU waiting for it — and
   * keeps the rest of the account from starving pushes of capacity. The push queue's
   * `maxConcurrency` must not exceed it.
   */
  reservedConcurrency: number;
}

/** The poller/reaper. */
export interface PollerSettings extends FunctionSettings {
  /**
   * When EventBridge Scheduler runs the poller (`rate(...)` or `cron(...)`). A Vast notification
   * runs it sooner; two runs never overlap (the reaper's lease), so a run longer than the period
   * only means the next one is skipped.
   */
  schedule: `rate(${string})` | `cron(${string})`;
  /**
   * Real time a run may spend before it starts no new SSH checks, in seconds. It must end well
   * before the timeout: checks already under way (a completion check streaming an artifact to S3)
   * still have to finish, and a run Lambda stops leaves its leases held until they expire.
   */
  runBudgetSeconds: number;
}

/** Deadlines of single steps, which must fit inside the functions that run them. */
export interface StepDeadlines {
  /**
   * One request to Vast's API, in seconds (the Vast client's `timeoutMs`). A create that times out
   * is ambiguous (it may still rent), so it must not be cut short, and the API and the events
   * subscriber must outlive one request to answer cleanly rather than be stopped by Lambda.
   */
  vastRequestSeconds: number;
  /**
   * Checking a dataset before renting (listing, a probe read), in seconds. A provisioning pass
   * inspects the dataset, searches and rents in one invocation, so the three must fit in it.
   */
  datasetInspectionSeconds: number;
  /**
   * One try at delivering a signed callback, from lookup to status line, in seconds. Callbacks run
   * in the provision function, among the batch's other messages.
   */
  callbackTrySeconds: number;
}

/** What the dead-letter queues keep. */
export interface DeadLetterSettings {
  /**
   * How long a dead letter is kept, in seconds (SQS allows up to 1,209,600 = 14 days). A message
   * moved to a dead-letter queue keeps its original enqueue time and expires by it, so this must
   * be longer than the work queues' retention or a dead letter may vanish on arrival.
   */
  retentionSeconds: number;
  /** How long a dead letter read by an operator stays hidden, in seconds. Nothing consumes them. */
  visibilityTimeoutSeconds: number;
}

/**
 * The completion follow-up: a run whose end the poller expects before its next run is checked
 * again from the provision queue, so its GPU is destroyed seconds after the run ends rather than
 * up to a poller period later.
 */
export interface CompletionFollowUpSettings {
  /**
   * Seconds between follow-up checks while the run goes on (an SQS message delay: 1–900, and
   * shorter than the poller's period, or the poller would be sooner).
   */
  intervalSeconds: number;
  /**
   * Follow-up checks in one chain at most (the first included); past them the poller takes over.
   * `intervalSeconds × maxChecks` is about one poller period: a chain never outlives the run that
   * started it by much, so at most two chains of one job overlap.
   */
  maxChecks: number;
}

export interface DeploymentSettings {
  /** The HTTP API on a Function URL (Function URLs allow up to 15 minutes; API Gateway 30 s). */
  api: FunctionSettings;
  /** The `provision` queue's consumer: provisioning passes, readiness checks and callbacks. */
  provision: QueueConsumerSettings;
  /** The `push` queue's consumer: streams a dataset onto an instance and launches training. */
  push: PushFunctionSettings;
  /** The poller/reaper: scheduled, and on `Reconcile Requested`. */
  poller: PollerSettings;
  /** The EventBridge subscriber for the inbound commands (invoked asynchronously). */
  events: FunctionSettings;
  /** Follow-up completion checks near a run's end, run by the provision function. */
  completionFollowUp: CompletionFollowUpSettings;
  stepDeadlines: StepDeadlines;
  /**
   * How long the work queues keep a message nobody received, in seconds (SQS allows 60–1,209,600;
   * its default is 4 days). Steps re-queue themselves long before that.
   */
  queueRetentionSeconds: number;
  deadLetters: DeadLetterSettings;
  /**
   * How much longer than its function's timeout every lease runs, in seconds. A lease that expired
   * while its invocation could still run would let a second handler act on the same job; the
   * margin also covers clock skew between the containers that take and check leases.
   */
  leaseMarginSeconds: number;
}

const MINUTE = 60;
const DAY = 24 * 60 * MINUTE;

/** The deployment's settings, and why each value is what it is. */
export const DEPLOYMENT: DeploymentSettings = {
  api: {
    // Outlives one Vast request (30 s) — an offer search, a destroy on cancel — so the API answers
    // a slow Vast with its own error instead of being stopped by Lambda.
    timeoutSeconds: MINUTE,
    memoryMb: 512,
  },
  provision: {
    // One pass inspects the dataset (≤ 60 s), searches and rents (≤ 30 s each), with 30 s for
    // teardown: 150 s, inside 3 minutes.
    timeoutSeconds: 3 * MINUTE,
    memoryMb: 512,
    teardownMarginSeconds: 30,
    queue: {
      // 6 × 180 s + the 1 s batch window = 1081 s, rounded up to 20 minutes.
      visibilityTimeoutSeconds: 20 * MINUTE,
      // Provisioning retries transient Vast and network errors a few times before the last
      // delivery ends the job cleanly.
      maxReceiveCount: 5,
      // Messages are short and independent (partial batch responses report each one).
      batchSize: 10,
      batchWindowSeconds: 1,
      maxConcurrency: null,
    },
  },
  push: {
    // Lambda's maximum: a dataset of several GB streams over SSH to the instance.
    timeoutSeconds: 15 * MINUTE,
    // More CPU and bandwidth for hashing and tar-streaming the dataset.
    memoryMb: 1024,
    // Destroying the instance and recording why takes seconds; a minute leaves room for retries.
    teardownMarginSeconds: MINUTE,
    reservedConcurrency: 10,
    queue: {
      // 6 × 900 s = 90 minutes.
      visibilityTimeoutSeconds: 90 * MINUTE,
      // A push is long and its failures are mostly the instance's: three tries, then the attempt ends.
      maxReceiveCount: 3,
      // One push per invocation: each gets the whole deadline and the function's bandwidth.
      batchSize: 1,
      batchWindowSeconds: 0,
      // As many as the reservation, never more (see QueueSettings.maxConcurrency).
      maxConcurrency: 10,
    },
  },
  poller: {
    timeoutSeconds: 5 * MINUTE,
    memoryMb: 1024,
    // Every minute: a GPU nobody uses must not bill for long.
    schedule: "rate(1 minute)",
    // Two of the five minutes are left for the checks under way (artifacts streaming to S3).
    runBudgetSeconds: 3 * MINUTE,
  },
  events: {
    // A command does what the API does (submit, cancel, terminate): one Vast request at most.
    timeoutSeconds: MINUTE,
    memoryMb: 512,
  },
  completionFollowUp: {
    // A finished run's GPU bills until the check that sees it: 10 s keeps that under the 30 s
    // p95 goal (measured in test/bench/orchestration.ts), for one SSH round trip per check.
    intervalSeconds: 10,
    // About one poller period (6 × 10 s): an estimate that was early costs a minute of checks.
    maxChecks: 6,
  },
  stepDeadlines: {
    vastRequestSeconds: 30,
    datasetInspectionSeconds: MINUTE,
    callbackTrySeconds: 10,
  },
  queueRetentionSeconds: 4 * DAY,
  deadLetters: {
    retentionSeconds: 14 * DAY,
    visibilityTimeoutSeconds: MINUTE,
  },
  leaseMarginSeconds: MINUTE,
};

/** The leases and budgets core derives from the function timeouts, in milliseconds. */
export interface DerivedTimings {
  /** A provisioning pass's lease on its job: the provision function's timeout plus the margin. */
  provisionLeaseMs: number;
  /** A push's lease on its job: the push function's timeout plus the margin. */
  pushLeaseMs: number;
  /** A completion check's lease (the poller's, and the provision function's follow-ups): the
   * longer of the two timeouts plus the margin. */
  completionLeaseMs: number;
  /** The reaper's system lease and the step leases it takes: the poller's timeout plus the margin. */
  reaperLeaseMs: number;
  /** The reaper run's budget for starting SSH work. */
  reaperRunBudgetMs: number;
  /** Kept back from each queue consumer's deadline for teardown. */
  teardownMarginMs: Record<WorkQueueName, number>;
}

export function leasesOf(settings: DeploymentSettings): DerivedTimings {
  const lease = (f: FunctionSettings) => (f.timeoutSeconds + settings.leaseMarginSeconds) * 1000;
  return {
    provisionLeaseMs: lease(settings.provision),
    pushLeaseMs: lease(settings.push),
    completionLeaseMs: Math.max(lease(settings.poller), lease(settings.provision)),
    reaperLeaseMs: lease(settings.poller),
    reaperRunBudgetMs: settings.poller.runBudgetSeconds * 1000,
    teardownMarginMs: {
      provision: settings.provision.teardownMarginSeconds * 1000,
      push: settings.push.teardownMarginSeconds * 1000,
    },
  };
}

/**
 * The poller's period in seconds, from a `rate(N unit)` schedule; null for a `cron(...)` one (no
 * fixed period to compare with).
 */
export function pollerPeriodSecondsOf(schedule: string): number | null {
  const match = /^rate\(\s*([1-9]\d*)\s+(minute|minutes|hour|hours|day|days)\s*\)$/.exec(schedule);
  if (!match) return null;
  const unit = match[2]?.startsWith("minute") ? 60 : match[2]?.startsWith("hour") ? 3600 : 86_400;
  return Number(match[1]) * unit;
}

/** Each work queue's last delivery: its redrive policy's `maxReceiveCount`. */
export function maxDeliveriesOf(settings: DeploymentSettings): Readonly<Record<WorkQueueName, number>> {
  return {
    provision: settings.provision.queue.maxReceiveCount,
    push: settings.push.queue.maxReceiveCount,
  };
}

/** A duration in SST's form (`"180 seconds"`). */
export function seconds(value: number): `${number} seconds` {
  return `${value} seconds`;
}

/** A memory size in SST's form (`"512 MB"`). */
export function megabytes(value: number): `${number} MB` {
  return `${value} MB`;
}
