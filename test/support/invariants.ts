/**
 * The money invariants (docs/architecture.md#money), checked against the simulator's record of every
 * instance ever created: (1) no instance is running without a live job that owns it (our label,
 * the job's current attempt, recorded in the store); (2) no job ever held two instances at once.
 */

import { isTerminal } from "../../packages/core/src/jobs/state-machine";
import type { JobStore } from "../../packages/core/src/store";
import { parseInstanceLabel } from "../../packages/core/src/vast/labels";
import type { VastSim } from "../../packages/vast-sim/src/index";

export interface InvariantReport {
  violations: string[];
  instances: number;
  alive: number;
}

export async function checkMoneyInvariants(sim: VastSim, store: JobStore): Promise<InvariantReport> {
  const violations: string[] = [];
  const all = sim.admin.instances();
  const alive = all.filter((i) => i.destroyedAtMs === null);

  for (const inst of alive) {
    const owner = parseInstanceLabel(inst.label);
    if (!owner) {
      violations.push(`instance ${inst.id} is alive without a rental label (${inst.label ?? "none"})`);
      continue;
    }
    const job = await store.getJob(owner.jobId);
    if (!job) {
      violations.push(`instance ${inst.id} is alive for unknown job ${owner.jobId}`);
      continue;
    }
    if (isTerminal(job.state)) {
      violations.push(`instance ${inst.id} is alive but job ${job.jobId} is ${job.state}`);
    }
    if (job.attempt !== owner.attempt) {
      violations.push(
        `instance ${inst.id} belongs to attempt ${owner.attempt}, job is at attempt ${job.attempt}`,
      );
    }
    const attempt = await store.getAttempt(owner.jobId, owner.attempt);
    if (attempt?.instanceId !== inst.id) {
      violations.push(
        `instance ${inst.id} is alive but its attempt records ${attempt?.instanceId ?? "nothing"}`,
      );
    }
  }

  const byJob = new Map<string, typeof all>();
  for (const inst of all) {
    const owner = parseInstanceLabel(inst.label);
    const key = owner?.jobId ?? `(unlabelled ${inst.id})`;
    byJob.set(key, [...(byJob.get(key) ?? []), inst]);
  }
  for (const [jobId, instances] of byJob) {
    const sorted = [...instances].sort((a, b) => a.createdAtMs - b.createdAtMs);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      const next = sorted[i]!;
      const prevEnd = prev.destroyedAtMs ?? Number.POSITIVE_INFINITY;
      if (next.createdAtMs < prevEnd) {
        violations.push(`job ${jobId} held instances ${prev.id} and ${next.id} at the same time`);
      }
    }
  }
  return { violations, instances: all.length, alive: alive.length };
}
