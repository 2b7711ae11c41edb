/**
 * The chaos run's clock. A crashed function leaves its lease held and its message hidden for as
 * long as the deployment says (a push: a 16-minute lease, a 90-minute visibility timeout), which
 * would make one run take hours. So the run uses the deployment compressed by a divisor: every
 * function timeout, visibility timeout, batch window, teardown margin, lease margin, the poller's run
 * budget and schedule, the step deadlines, the completion follow-up's interval — and the
 * orchestration delays and limits that are measured against them (leases, the reaper's "stuck" and
 * push limits, boot slack, readiness and look-up delays, the ambiguous-create window, the heartbeat,
 * the follow-up's horizon). Every ratio the deployment's
 * invariants state (visibility ≥ 6 × timeout, a lease outliving its function, the push limit
 * covering every delivery, ...) is kept; `compressionViolations` proves it by scaling the result
 * back up and checking it with `checkDeploymentInvariants`.
 *
 * Vast's published minimum intervals between calls, which the client keeps per container, are
 * compressed too (`compressedVastRateLimits`). What stays as deployed: redrive counts and batch sizes
 * (they are counts), retention, the Vast client's 30 s request timeout (built into the
 * dependencies; no request comes near it here), and the SQS delays that would fall under one second
 * (SQS counts delays in whole seconds).
 */
import {
  checkDeploymentInvariants,
  DEFAULT_JOB_SETTINGS,
  DEFAULT_RATE_LIMITS,
  DEPLOYMENT,
  type DeploymentSettings,
  type DeploymentViolation,
  type JobSettingsOverrides,
  leasesOf,
  MAX_DELIVERIES,
  type VastEndpoint,
} from "@vast-rental/core";

/** The default compression: a minute of the deployment is 6 s of the chaos run. */
export const DEFAULT_TIME_DIVISOR = 10;

/**
 * Work does not compress: a provisioning pass, a push or a poller run takes as long on this machine
 * whatever the divisor. No function's compressed timeout goes under this (its queue's visibility, its
 * teardown margin and its run budget stretch with it), or loaded runs would time out all the time.
 */
export const MIN_COMPRESSED_TIMEOUT_SECONDS = 30;

/**
 * The deployment with its durations divided by `divisor` (counts and retention untouched). A
 * function whose timeout would fall under `minTimeoutSeconds` keeps that much, and everything tied to
 * its timeout is scaled with it instead, so every ratio between them holds.
 */
export function compressDeployment(
  settings: DeploymentSettings,
  divisor: number,
  minTimeoutSeconds = 0,
): DeploymentSettings {
  const factor = (timeout: number) =>
    Math.max(timeout / divisor, Math.min(timeout, minTimeoutSeconds)) / timeout;
  const fn = <F extends { timeoutSeconds: number }>(f: F): F => ({
    ...f,
    timeoutSeconds: f.timeoutSeconds * factor(f.timeoutSeconds),
  });
  const consumer = <C extends DeploymentSettings["provision"]>(c: C): C => {
    const k = factor(c.timeoutSeconds);
    return {
      ...fn(c),
      teardownMarginSeconds: c.teardownMarginSeconds * k,
      queue: {
        ...c.queue,
        visibilityTimeoutSeconds: c.queue.visibilityTimeoutSeconds * k,
        batchWindowSeconds: c.queue.batchWindowSeconds * k,
      },
    };
  };
  const s = (seconds: number) => seconds / divisor;
  return {
    ...settings,
    api: fn(settings.api),
    events: fn(settings.events),
    provision: consumer(settings.provision),
    push: consumer(settings.push),
    poller: {
      ...fn(settings.poller),
      runBudgetSeconds: settings.poller.runBudgetSeconds * factor(settings.poller.timeoutSeconds),
    },
    stepDeadlines: {
      vastRequestSeconds: s(settings.stepDeadlines.vastRequestSeconds),
      datasetInspectionSeconds: s(settings.stepDeadlines.datasetInspectionSeconds),
      callbackTrySeconds: s(settings.stepDeadlines.callbackTrySeconds),
    },
    leaseMarginSeconds: s(settings.leaseMarginSeconds),
    completionFollowUp: {
      ...settings.completionFollowUp,
      intervalSeconds: s(settings.completionFollowUp.intervalSeconds),
    },
  };
}

/** The chaos run's deployment: `DEPLOYMENT` compressed, with the floor on timeouts. */
export function chaosDeployment(divisor: number): DeploymentSettings {
  return compressDeployment(DEPLOYMENT, divisor, MIN_COMPRESSED_TIMEOUT_SECONDS);
}

/** An SQS delay (whole seconds, at least one) for `seconds` of the deployment compressed. */
const delay = (seconds: number, divisor: number) => Math.max(1, Math.round(seconds / divisor));

/** The orchestration settings that go with `chaosDeployment(divisor)`. */
export function compressedJobSettings(divisor: number): JobSettingsOverrides {
  const d = DEFAULT_JOB_SETTINGS;
  const leases = leasesOf(chaosDeployment(divisor));
  const ms = (value: number) => value / divisor;
  return {
    provision: {
      leaseMs: leases.provisionLeaseMs,
      readinessBackoffSeconds: d.provision.readinessBackoffSeconds.map((x) => delay(x, divisor)),
      readinessNearReadySeconds: delay(d.provision.readinessNearReadySeconds, divisor),
      retryPassDelaySeconds: delay(d.provision.retryPassDelaySeconds, divisor),
      ambiguousCreateWindowMs: ms(d.provision.ambiguousCreateWindowMs),
      ambiguousLookupDelaySeconds: delay(d.provision.ambiguousLookupDelaySeconds, divisor),
    },
    push: {
      leaseMs: leases.pushLeaseMs,
      heartbeatIntervalSeconds: delay(d.push.heartbeatIntervalSeconds, divisor),
    },
    completion: {
      leaseMs: leases.completionLeaseMs,
      staleHeartbeatSeconds: d.completion.staleHeartbeatSeconds / divisor,
      collectGraceMs: ms(d.completion.collectGraceMs),
      collectTimeoutMs: ms(d.completion.collectTimeoutMs),
      // The completion follow-up: a run ending before the compressed poller's next run, checked
      // every compressed 10 s.
      followUpHorizonMs: compressedPollIntervalMs(divisor),
      followUpIntervalSeconds: delay(d.completion.followUpIntervalSeconds, divisor),
    },
    reaper: {
      leaseMs: leases.reaperLeaseMs,
      runBudgetMs: leases.reaperRunBudgetMs,
      stuckAfterMs: ms(d.reaper.stuckAfterMs),
      pushTimeoutMs: ms(d.reaper.pushTimeoutMs),
      bootTimeoutSlackMs: ms(d.reaper.bootTimeoutSlackMs),
    },
  };
}

/**
 * Vast's published minimum intervals between calls, compressed too: the run plays ten minutes of
 * traffic in one, and the simulator's API is as fast as the time it simulates.
 */
export function compressedVastRateLimits(divisor: number): Record<VastEndpoint, number> {
  return Object.fromEntries(
    Object.entries(DEFAULT_RATE_LIMITS).map(([endpoint, ms]) => [endpoint, ms / divisor]),
  ) as Record<VastEndpoint, number>;
}

/** The poller's schedule compressed: `rate(1 minute)` → every 6 s at the default divisor. */
export function compressedPollIntervalMs(divisor: number): number {
  const match = /^rate\(\s*(\d+)\s+(minute|minutes|hour|hours)\s*\)$/.exec(DEPLOYMENT.poller.schedule);
  if (!match) throw new Error(`cannot compress the poller's schedule ${DEPLOYMENT.poller.schedule}`);
  const unitMs = match[2]!.startsWith("minute") ? 60_000 : 3_600_000;
  return (Number(match[1]) * unitMs) / divisor;
}

/**
 * The rules of `checkDeploymentInvariants` that the compressed timings break once scaled back up
 * by `divisor`: none, unless a compressed number no longer keeps the deployment's ratios (a lease
 * derived from the wrong timeout, a visibility timeout rounded down, ...).
 */
export function compressionViolations(
  divisor: number,
  compressed: DeploymentSettings = chaosDeployment(divisor),
  jobs: JobSettingsOverrides = compressedJobSettings(divisor),
): DeploymentViolation[] {
  const up = (x: number) => Math.round(x * divisor * 1000) / 1000;
  const upMs = (x: number | undefined) => up(x ?? Number.NaN);
  return checkDeploymentInvariants(compressDeployment(compressed, 1 / divisor), {
    maxDeliveries: MAX_DELIVERIES,
    jobs: {
      provision: {
        leaseMs: upMs(jobs.provision?.leaseMs),
        // Delays are rounded to whole seconds: scaled back, they stay inside SQS's 0–900 s.
        readinessBackoffSeconds: (jobs.provision?.readinessBackoffSeconds ?? []).map(up),
        readinessNearReadySeconds: upMs(jobs.provision?.readinessNearReadySeconds),
        retryPassDelaySeconds: upMs(jobs.provision?.retryPassDelaySeconds),
        ambiguousLookupDelaySeconds: upMs(jobs.provision?.ambiguousLookupDelaySeconds),
      },
      push: { leaseMs: upMs(jobs.push?.leaseMs) },
      completion: { leaseMs: upMs(jobs.completion?.leaseMs) },
      reaper: {
        leaseMs: upMs(jobs.reaper?.leaseMs),
        runBudgetMs: upMs(jobs.reaper?.runBudgetMs),
        pushTimeoutMs: upMs(jobs.reaper?.pushTimeoutMs),
      },
    },
  });
}
