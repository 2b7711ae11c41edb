/**
 * The infrastructure settings: the numbers `sst.config.ts` deploys and the numbers core runs with
 * agree (visibility timeouts, redrive counts, leases, budgets, step deadlines, concurrency), and
 * the check that says so fails when one side changes alone.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_CALLBACK_DEADLINE_MS } from "../../src/callbacks";
import { DEFAULT_INSPECT_TIMEOUT_MS } from "../../src/dataset";
import {
  ACCESS,
  type CoreView,
  checkDeploymentInvariants,
  DEPLOYMENT,
  type DeploymentRule,
  type DeploymentSettings,
  FUNCTION_ACCESS,
  leasesOf,
  MIN_LEASE_MARGIN_SECONDS,
} from "../../src/deployment";
import { DEFAULT_JOB_SETTINGS, type JobSettings } from "../../src/jobs";
import { MAX_DELIVERIES } from "../../src/queue";

/** Core as it runs: its last deliveries and its default settings. */
const core: CoreView = { maxDeliveries: MAX_DELIVERIES, jobs: DEFAULT_JOB_SETTINGS };

function deploymentWith(change: (settings: DeploymentSettings) => void): DeploymentSettings {
  const copy = structuredClone(DEPLOYMENT);
  change(copy);
  return copy;
}

function jobsWith(change: (settings: JobSettings) => void): JobSettings {
  const copy = structuredClone(DEFAULT_JOB_SETTINGS);
  change(copy);
  return copy;
}

function rulesBroken(settings: DeploymentSettings, view: CoreView = core): DeploymentRule[] {
  return checkDeploymentInvariants(settings, view).map((v) => v.rule);
}

describe("the deployment's numbers and core's", () => {
  it("agree on every rule as shipped", () => {
    expect(checkDeploymentInvariants(DEPLOYMENT, core)).toEqual([]);
    // What sst.config.ts checks before deploying (it loads nothing heavier than the module).
    expect(checkDeploymentInvariants(DEPLOYMENT, { maxDeliveries: MAX_DELIVERIES })).toEqual([]);
  });

  it("each work queue hides a message at least six times its consumer's timeout", () => {
    for (const consumer of [DEPLOYMENT.provision, DEPLOYMENT.push]) {
      expect(consumer.queue.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(
        6 * consumer.timeoutSeconds + consumer.queue.batchWindowSeconds,
      );
    }
  });

  it("the queues' redrive count is the code's last delivery", () => {
    expect(MAX_DELIVERIES).toEqual({
      provision: DEPLOYMENT.provision.queue.maxReceiveCount,
      push: DEPLOYMENT.push.queue.maxReceiveCount,
    });
  });

  it("core's leases and the poller's budget are derived from the function timeouts", () => {
    const derived = leasesOf(DEPLOYMENT);
    expect(DEFAULT_JOB_SETTINGS.provision.leaseMs).toBe(derived.provisionLeaseMs);
    expect(DEFAULT_JOB_SETTINGS.push.leaseMs).toBe(derived.pushLeaseMs);
    expect(DEFAULT_JOB_SETTINGS.completion.leaseMs).toBe(derived.completionLeaseMs);
    expect(DEFAULT_JOB_SETTINGS.reaper.leaseMs).toBe(derived.reaperLeaseMs);
    expect(DEFAULT_JOB_SETTINGS.reaper.runBudgetMs).toBe(derived.reaperRunBudgetMs);
    const margin = (DEPLOYMENT.leaseMarginSeconds * 1000) as number;
    expect(DEFAULT_JOB_SETTINGS.provision.leaseMs).toBe(DEPLOYMENT.provision.timeoutSeconds * 1000 + margin);
    expect(DEFAULT_JOB_SETTINGS.push.leaseMs).toBe(DEPLOYMENT.push.timeoutSeconds * 1000 + margin);
    expect(DEFAULT_JOB_SETTINGS.reaper.leaseMs).toBe(DEPLOYMENT.poller.timeoutSeconds * 1000 + margin);
    // Completion checks run in the poller and, as follow-ups, in the provision function.
    expect(DEFAULT_JOB_SETTINGS.completion.leaseMs).toBeGreaterThanOrEqual(
      Math.max(DEPLOYMENT.poller.timeoutSeconds, DEPLOYMENT.provision.timeoutSeconds) * 1000 + margin,
    );
    expect(DEFAULT_JOB_SETTINGS.completion.followUpIntervalSeconds).toBe(
      DEPLOYMENT.completionFollowUp.intervalSeconds,
    );
    expect(DEFAULT_JOB_SETTINGS.completion.followUpMaxChecks).toBe(DEPLOYMENT.completionFollowUp.maxChecks);
    expect(DEFAULT_JOB_SETTINGS.completion.followUpHorizonMs).toBe(60_000);
    expect(DEPLOYMENT.leaseMarginSeconds).toBeGreaterThanOrEqual(MIN_LEASE_MARGIN_SECONDS);
  });

  it("every step deadline core applies is the deployment's, and fits in its function", () => {
    expect(DEFAULT_INSPECT_TIMEOUT_MS).toBe(DEPLOYMENT.stepDeadlines.datasetInspectionSeconds * 1000);
    expect(DEFAULT_CALLBACK_DEADLINE_MS).toBe(DEPLOYMENT.stepDeadlines.callbackTrySeconds * 1000);
    expect(DEFAULT_JOB_SETTINGS.reaper.runBudgetMs).toBeLessThan(DEPLOYMENT.poller.timeoutSeconds * 1000);
    expect(DEPLOYMENT.push.teardownMarginSeconds).toBeLessThan(DEPLOYMENT.push.timeoutSeconds);
    expect(DEPLOYMENT.provision.teardownMarginSeconds).toBeLessThan(DEPLOYMENT.provision.timeoutSeconds);
  });

  it("the push function has capacity of its own, and its queue never invokes beyond it", () => {
    expect(DEPLOYMENT.push.reservedConcurrency).toBeGreaterThanOrEqual(1);
    expect(DEPLOYMENT.push.queue.maxConcurrency).not.toBeNull();
    expect(DEPLOYMENT.push.queue.maxConcurrency).toBeLessThanOrEqual(DEPLOYMENT.push.reservedConcurrency);
  });
});

describe("checkDeploymentInvariants catches a number changed on one side only", () => {
  const cases: [string, DeploymentRule, DeploymentSettings, CoreView?][] = [
    [
      "a visibility timeout under 6 × the consumer's timeout",
      "visibility-timeout",
      deploymentWith((s) => {
        s.provision.queue.visibilityTimeoutSeconds = 5 * s.provision.timeoutSeconds;
      }),
    ],
    [
      "a redrive count that is not the code's last delivery",
      "last-delivery",
      deploymentWith((s) => {
        s.push.queue.maxReceiveCount = 4;
      }),
    ],
    [
      "a last delivery in the code that is not the queue's redrive count",
      "last-delivery",
      DEPLOYMENT,
      { ...core, maxDeliveries: { ...MAX_DELIVERIES, provision: MAX_DELIVERIES.provision + 1 } },
    ],
    [
      "a lease no longer than its function's timeout (the value core had before deriving it)",
      "lease",
      DEPLOYMENT,
      {
        ...core,
        jobs: jobsWith((j) => {
          j.provision.leaseMs = 120_000;
          j.completion.leaseMs = DEPLOYMENT.poller.timeoutSeconds * 1000;
        }),
      },
    ],
    [
      "a poller run budget that leaves no time to finish",
      "run-budget",
      DEPLOYMENT,
      {
        ...core,
        jobs: jobsWith((j) => {
          j.reaper.runBudgetMs = DEPLOYMENT.poller.timeoutSeconds * 1000;
        }),
      },
    ],
    [
      "a poller run budget past the timeout, as sst.config.ts checks it",
      "run-budget",
      deploymentWith((s) => {
        s.poller.runBudgetSeconds = s.poller.timeoutSeconds;
      }),
      { maxDeliveries: MAX_DELIVERIES },
    ],
    [
      "a push time limit shorter than the push queue's deliveries",
      "push-time-limit",
      DEPLOYMENT,
      {
        ...core,
        jobs: jobsWith((j) => {
          j.reaper.pushTimeoutMs = 30 * 60_000;
        }),
      },
    ],
    [
      "no reserved concurrency for the push function",
      "reserved-concurrency",
      deploymentWith((s) => {
        s.push.reservedConcurrency = 0;
      }),
    ],
    [
      "a push queue invoking more pushes than are reserved",
      "max-concurrency",
      deploymentWith((s) => {
        s.push.queue.maxConcurrency = s.push.reservedConcurrency + 1;
      }),
    ],
    [
      "two pushes per invocation",
      "batch",
      deploymentWith((s) => {
        s.push.queue.batchSize = 2;
      }),
    ],
    [
      "a batch larger than SQS delivers without a window",
      "batch",
      deploymentWith((s) => {
        s.provision.queue.batchWindowSeconds = 0;
        s.provision.queue.batchSize = 11;
      }),
    ],
    [
      "a timeout past Lambda's 15 minutes",
      "function-timeout",
      deploymentWith((s) => {
        s.api.timeoutSeconds = 901;
      }),
    ],
    [
      "memory under Lambda's minimum",
      "function-memory",
      deploymentWith((s) => {
        s.api.memoryMb = 64;
      }),
    ],
    [
      "an API that does not outlive one Vast request",
      "step-deadline",
      deploymentWith((s) => {
        s.api.timeoutSeconds = s.stepDeadlines.vastRequestSeconds;
      }),
    ],
    [
      "a provisioning pass that no longer fits its function",
      "step-deadline",
      deploymentWith((s) => {
        s.stepDeadlines.datasetInspectionSeconds = s.provision.timeoutSeconds;
      }),
    ],
    [
      "no teardown margin",
      "teardown-margin",
      deploymentWith((s) => {
        s.push.teardownMarginSeconds = 0;
      }),
    ],
    [
      "a delay SQS cannot hold a message for",
      "queue-delay",
      DEPLOYMENT,
      {
        ...core,
        jobs: jobsWith((j) => {
          j.provision.retryPassDelaySeconds = 901;
        }),
      },
    ],
    [
      "a schedule EventBridge Scheduler does not understand",
      "schedule",
      deploymentWith((s) => {
        s.poller.schedule = "rate(every minute)";
      }),
    ],
    [
      "a completion follow-up interval SQS cannot delay a message by",
      "completion-follow-up",
      deploymentWith((s) => {
        s.completionFollowUp.intervalSeconds = 901;
      }),
    ],
    [
      "a completion follow-up interval as long as the poller's period",
      "completion-follow-up",
      deploymentWith((s) => {
        s.completionFollowUp.intervalSeconds = 60;
      }),
    ],
    [
      "a completion follow-up chain outlasting two poller periods",
      "completion-follow-up",
      deploymentWith((s) => {
        s.completionFollowUp.maxChecks = 13;
      }),
    ],
    [
      "a completion lease the provision function (running follow-ups) would outlive",
      "lease",
      deploymentWith((s) => {
        // Longer than the poller's 5 minutes: the completion lease (6 minutes) no longer covers it.
        s.provision.timeoutSeconds = 8 * 60;
        s.provision.queue.visibilityTimeoutSeconds = 6 * 8 * 60 + 1;
      }),
      {
        ...core,
        jobs: jobsWith((j) => {
          j.provision.leaseMs = (8 * 60 + 60) * 1000;
        }),
      },
    ],
    [
      "dead letters kept no longer than the work queues keep messages",
      "retention",
      deploymentWith((s) => {
        s.deadLetters.retentionSeconds = s.queueRetentionSeconds;
      }),
    ],
  ];

  it.each(cases)("%s", (_name, rule, settings, view) => {
    const violations = checkDeploymentInvariants(settings, view ?? core);
    expect(violations.map((v) => v.rule)).toContain(rule);
    // The shipped settings break nothing: whatever breaks here is the one number changed.
    expect(new Set(violations.map((v) => v.rule)).size, JSON.stringify(violations)).toBeLessThanOrEqual(
      rule === "reserved-concurrency" ? 2 : 1,
    );
    for (const violation of violations) expect(violation.message.length).toBeGreaterThan(20);
  });

  it("a function timeout raised in the deployment alone breaks both the queue and the lease", () => {
    // The provision function given 4 minutes: its queue still hides messages for 20 (< 6 × 4 + 1),
    // and core's lease (derived from the shipped 3 minutes) would expire while it still runs.
    const slower = deploymentWith((s) => {
      s.provision.timeoutSeconds = 240;
    });
    expect(rulesBroken(slower)).toEqual(expect.arrayContaining(["visibility-timeout", "lease"]));
    const message = checkDeploymentInvariants(slower, core).find((v) => v.rule === "lease")?.message;
    expect(message).toContain("240 s");
  });

  it("does not change the settings it checks", () => {
    const copy = structuredClone(DEPLOYMENT);
    checkDeploymentInvariants(DEPLOYMENT, core);
    expect(DEPLOYMENT).toEqual(copy);
  });
});

describe("each function's access (least privilege)", () => {
  const grants = (fn: keyof typeof FUNCTION_ACCESS) => new Set(FUNCTION_ACCESS[fn]);
  const functions = Object.keys(FUNCTION_ACCESS) as (keyof typeof FUNCTION_ACCESS)[];

  it("every function reads the secret and the table: each builds its dependencies from both", () => {
    for (const fn of functions) {
      expect(grants(fn).has("secret"), fn).toBe(true);
      expect(grants(fn).has("table"), fn).toBe(true);
    }
  });

  it("dataset buckets are read only where datasets are checked and pushed", () => {
    expect(functions.filter((fn) => grants(fn).has("datasets")).sort()).toEqual(["provision", "push"]);
  });

  it("only the poller and the provision function (completion follow-ups) write artifacts, only the subscriber keeps dead letters", () => {
    expect(functions.filter((fn) => grants(fn).has("artifacts")).sort()).toEqual(["poller", "provision"]);
    expect(functions.filter((fn) => grants(fn).has("commandsDlq"))).toEqual(["events"]);
  });

  it("the push queue is fed only by readiness (provision) and the reaper (poller)", () => {
    expect(functions.filter((fn) => grants(fn).has("pushQueue")).sort()).toEqual(["poller", "provision"]);
  });

  it("no action is a wildcard, and the table is never scanned nor administered", () => {
    for (const { actions } of Object.values(ACCESS)) {
      for (const action of actions) expect(action).toMatch(/^[a-z0-9]+:[A-Za-z0-9]+$/);
    }
    expect(ACCESS.table.actions).not.toContain("dynamodb:Scan");
    expect(ACCESS.table.actions.some((a) => /Table|TimeToLive/.test(a))).toBe(false);
  });
});
