/**
 * The chaos run's compressed clock keeps the deployment's rules: scaled back up, its timeouts,
 * visibility timeouts, leases and limits pass `checkDeploymentInvariants` — and a compressed copy
 * that lost a ratio does not.
 */
import { describe, expect, it } from "vitest";
import {
  chaosDeployment,
  compressedJobSettings,
  compressionViolations,
  MIN_COMPRESSED_TIMEOUT_SECONDS,
} from "./timings";

describe("the chaos run's compressed timings", () => {
  it.each([10, 20])("keep every ratio of the deployment's invariants at ÷%i", (divisor) => {
    expect(compressionViolations(divisor)).toEqual([]);
    const deployment = chaosDeployment(divisor);
    for (const fn of [deployment.provision, deployment.push, deployment.poller]) {
      expect(fn.timeoutSeconds).toBeGreaterThanOrEqual(MIN_COMPRESSED_TIMEOUT_SECONDS);
    }
    // A lease outlives its (floored) function.
    expect(compressedJobSettings(divisor).provision?.leaseMs).toBeGreaterThan(
      deployment.provision.timeoutSeconds * 1000,
    );
  });

  it("names a compressed copy that lost a ratio", () => {
    const deployment = chaosDeployment(10);
    const broken = {
      ...deployment,
      provision: {
        ...deployment.provision,
        queue: { ...deployment.provision.queue, visibilityTimeoutSeconds: 60 },
      },
    };
    expect(compressionViolations(10, broken).map((v) => v.rule)).toContain("visibility-timeout");
    const jobs = compressedJobSettings(10);
    const shortLease = { ...jobs, push: { ...jobs.push, leaseMs: deployment.push.timeoutSeconds * 1000 } };
    expect(compressionViolations(10, deployment, shortLease).map((v) => v.rule)).toContain("lease");
  });
});
