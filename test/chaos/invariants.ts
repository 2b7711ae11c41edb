/**
 * The chaos run's verdict: docs/architecture.md#invariants checked against what the store says
 * (jobs, attempts, timelines, stray charges) and what the simulator saw happen to every instance
 * (its state history and its ledger). A pure function over a snapshot, so it is tested on its own
 * with fabricated histories (invariants.test.ts) — a check that cannot fail proves nothing.
 *
 * - Every job ended (succeeded, failed or cancelled) with a reason.
 * - No instance is alive at the end, and none was ever alive without a live attempt. An instance's
 *   time alive (create → destroy, as the simulator stamped them) after the ending of the attempt its
 *   label names was written — or all of it, when no such attempt exists — is *leaked*, and must be
 *   zero, with one
 *   exception the design names (docs/architecture.md, "Strays and orphans"): a *stray*, an instance
 *   whose attempt does not hold it because its create completed after the attempt ended (a cancel
 *   raced the create call, a late create outlived the look-up window). A stray must be charged to its
 *   job and destroyed within `strayLimitSeconds` of the later of its creation and its attempt's end
 *   (the step that finds it, or the reaper's next runs); its seconds are reported apart.
 * - No job held two instances at once: the lifetimes (create → destroy, when storage bills) of the
 *   instances labelled for one job never overlap, and neither do their GPU-billing (running) spells.
 * - No step applied twice: replayed in version order, the timeline is one legal path through the
 *   state machine ending in one final transition; a rental, a ready instance, a training start and a
 *   training finish are recorded at most once per attempt, and a LoRA at most once per job; every
 *   attempt ended and was charged once (the job's total is the sum of its attempts and strays); each
 *   instance's training was launched at most once (the distinct `train.pid`s seen on it).
 * - Every job's cost is within 2 % (or `STAMP_SLACK_SECONDS` of each instance's price, whichever is
 *   more) of what the simulator billed for the instances labelled for it,
 *   counting as billed what docs/architecture.md says the job is charged on purpose: an instance its
 *   host stopped (outbid) or took offline after it ran is charged as running until it is destroyed
 *   (Vast shows no time for the change; the reaper destroys it on its next run).
 */

import { isTerminal, nextState } from "../../packages/core/src/jobs/state-machine";
import type { AttemptRecord, JobRecord, StrayCharge, TimelineEntry } from "../../packages/core/src/store";
import { parseInstanceLabel } from "../../packages/core/src/vast/labels";
import type { AdminInstance } from "../../packages/vast-sim/src/index";

export interface JobSnapshot {
  job: JobRecord;
  attempts: AttemptRecord[];
  timeline: TimelineEntry[];
  strays: StrayCharge[];
}

export interface ChaosSnapshot {
  jobs: JobSnapshot[];
  /** Every instance the simulator ever made. */
  instances: AdminInstance[];
  /** Distinct training pids seen per instance (training launches). */
  launches: Record<number, number[]>;
  /** How long a stray may live after its attempt ended (or after it appeared, if later). */
  strayLimitSeconds: number;
}

export interface JobCost {
  jobId: string;
  state: JobRecord["state"];
  costUsd: number;
  ledgerUsd: number;
  /** GPU charged, by design, for time a host had stopped the instance or taken it offline. */
  hostStoppedUsd: number;
}

export interface InvariantResult {
  violations: string[];
  /** Instance-seconds alive without a live attempt, strays apart, in all (must be 0). */
  leakedInstanceSeconds: number;
  /** The instances with leaked seconds, and how many. */
  leaks: { instanceId: number; jobId: string | null; seconds: number }[];
  /** Per attempt with a recorded destroy: seconds between the simulator's destroy and the job's record of it. */
  destroySkews: number[];
  /** Strays (charged to their job, destroyed within the limit): seconds each lived without its attempt. */
  strays: { instanceId: number; jobId: string; seconds: number }[];
  costs: JobCost[];
}

/** Relative difference allowed between a job's cost and the simulator's ledger. */
export const COST_TOLERANCE = 0.02;
/**
 * The job and the simulator stamp a rental's ends at different moments: the job when Vast's answer
 * to the create or the destroy arrives, the simulator when it handles the call. On this machine,
 * shared and loaded, that is up to a couple of seconds — measured and reported as the destroy stamp
 * skew. On the run's jobs of a few dozen seconds that alone can exceed 2 %, so a job's cost may also
 * differ from the ledger by up to this many seconds of its instances' full price (0.3 % of a
 * 30-minute job). A real mistake — a GPU not charged, a destroy charged until a crash was recovered —
 * is worth far more, and a destroy recorded late is also caught on its own (`MAX_DESTROY_SKEW_SECONDS`).
 */
export const STAMP_SLACK_SECONDS = 5;
/**
 * A destroy the job records this long after the simulator did it is a bug, not latency: the job is
 * charged for time Vast did not bill (a crash between the destroy and its record, say, priced to the
 * moment the step was redone).
 */
export const MAX_DESTROY_SKEW_SECONDS = 10;

/** Events recorded at most once per attempt. */
const ONCE_PER_ATTEMPT = new Set([
  "instance_created",
  "instance_ready",
  "training_started",
  "training_finished",
]);

export function checkChaosInvariants(snapshot: ChaosSnapshot): InvariantResult {
  const violations: string[] = [];
  const leaks: InvariantResult["leaks"] = [];
  const strays: InvariantResult["strays"] = [];
  const destroySkews: number[] = [];
  const costs: JobCost[] = [];
  const jobs = new Map(snapshot.jobs.map((s) => [s.job.jobId, s]));
  const simById = new Map(snapshot.instances.map((i) => [i.id, i]));
  const byJob = new Map<string, AdminInstance[]>();

  for (const instance of snapshot.instances) {
    const owner = parseInstanceLabel(instance.label);
    if (owner) byJob.set(owner.jobId, [...(byJob.get(owner.jobId) ?? []), instance]);
    if (instance.destroyedAtMs === null) {
      violations.push(`instance ${instance.id} (${instance.label ?? "no label"}) is still alive at the end`);
    }
    const job = owner ? jobs.get(owner.jobId) : undefined;
    const attempt = owner ? job?.attempts.find((a) => a.attempt === owner.attempt) : undefined;
    const end = instance.destroyedAtMs ?? Number.POSITIVE_INFINITY;
    const liveUntil = attempt && job ? endWrittenAt(job, attempt) : Number.NEGATIVE_INFINITY;
    const aloneMs = Math.max(0, end - Math.max(instance.createdAtMs, liveUntil));
    const charged = job?.strays.some((s) => s.instanceId === instance.id) ?? false;
    if (owner && attempt && attempt.instanceId !== instance.id && charged) {
      const seconds = aloneMs / 1000;
      strays.push({ instanceId: instance.id, jobId: owner.jobId, seconds });
      if (seconds > snapshot.strayLimitSeconds) {
        violations.push(
          `stray instance ${instance.id} of job ${owner.jobId} lived ${seconds.toFixed(1)} s after its attempt ended (limit ${snapshot.strayLimitSeconds} s)`,
        );
      }
    } else if (aloneMs > 0) {
      const seconds = aloneMs / 1000;
      leaks.push({ instanceId: instance.id, jobId: owner?.jobId ?? null, seconds });
      violations.push(
        `instance ${instance.id} (${instance.label ?? "no label"}) was alive ${seconds.toFixed(1)} s without a live attempt` +
          (attempt ? ` (attempt ${attempt.attempt} ended ${attempt.outcome})` : " (no such attempt)"),
      );
    }
    const pids = snapshot.launches[instance.id] ?? [];
    if (pids.length > 1) {
      violations.push(
        `instance ${instance.id}: training launched ${pids.length} times (pids ${pids.join(", ")})`,
      );
    }
  }

  // A stray is the one overlap the design admits (a create Vast completed after its attempt gave
  // up, while the job moved on): it is held to its own limit above.
  const strayIds = new Set(strays.map((x) => x.instanceId));
  for (const [jobId, all] of byJob) {
    const instances = all.filter((i) => !strayIds.has(i.id));
    const overlaps = (a: { from: number; to: number }, b: { from: number; to: number }) =>
      a.from < b.to && b.from < a.to;
    const life = (i: AdminInstance) => ({
      from: i.createdAtMs,
      to: i.destroyedAtMs ?? Number.POSITIVE_INFINITY,
    });
    for (let i = 0; i < instances.length; i++) {
      for (let j = i + 1; j < instances.length; j++) {
        const [a, b] = [instances[i]!, instances[j]!].sort((x, y) => x.id - y.id) as [
          AdminInstance,
          AdminInstance,
        ];
        if (overlaps(life(a), life(b))) {
          violations.push(`job ${jobId} held instances ${a.id} and ${b.id} at the same time`);
        }
        if (runningSpells(a).some((x) => runningSpells(b).some((y) => overlaps(x, y)))) {
          violations.push(`job ${jobId} had instances ${a.id} and ${b.id} billing the GPU at the same time`);
        }
      }
    }
  }

  for (const s of snapshot.jobs) {
    const { job } = s;
    if (!isTerminal(job.state)) violations.push(`job ${job.jobId} did not end: ${job.state}`);
    else if (!job.reason?.trim()) violations.push(`job ${job.jobId} ended ${job.state} without a reason`);
    violations.push(...timelineViolations(s));
    for (const a of s.attempts) {
      const sim = a.instanceId === null ? undefined : simById.get(a.instanceId);
      if (a.destroyedAt === null || !sim || sim.destroyedAtMs === null) continue;
      const skew = (a.destroyedAt - sim.destroyedAtMs) / 1000;
      destroySkews.push(skew);
      if (skew > MAX_DESTROY_SKEW_SECONDS || skew < -1) {
        violations.push(
          `job ${job.jobId} attempt ${a.attempt}: instance ${a.instanceId}'s destroy recorded ${skew.toFixed(1)} s ${skew > 0 ? "after" : "before"} Vast did it`,
        );
      }
    }
    violations.push(...chargeViolations(s));

    const mine = byJob.get(job.jobId) ?? [];
    const ledgerUsd = mine.reduce((sum, i) => sum + i.ledger.totalMicros / 1e6, 0);
    const hostStoppedUsd = mine.reduce((sum, i) => {
      const ran = s.attempts.some((a) => a.instanceId === i.id && a.runningSince !== null);
      return sum + (ran ? (i.ledger.gpuDph * hostStoppedMs(i)) / 3_600_000 : 0);
    }, 0);
    const costUsd = job.costUsd ?? job.spentUsd;
    costs.push({ jobId: job.jobId, state: job.state, costUsd, ledgerUsd, hostStoppedUsd });
    const expected = ledgerUsd + hostStoppedUsd;
    const slack = mine.reduce(
      (sum, i) => sum + ((i.ledger.gpuDph + i.ledger.storageDph) * STAMP_SLACK_SECONDS) / 3600,
      0,
    );
    if (Math.abs(costUsd - expected) > Math.max(COST_TOLERANCE * expected, slack)) {
      violations.push(
        `job ${job.jobId} (${job.state}) cost $${costUsd.toFixed(6)} but the simulator billed $${ledgerUsd.toFixed(6)}` +
          (hostStoppedUsd > 0 ? ` (+ $${hostStoppedUsd.toFixed(6)} host-stopped)` : "") +
          ` (${relative(costUsd, expected)})`,
      );
    }
  }

  return {
    violations,
    leakedInstanceSeconds: leaks.reduce((sum, l) => sum + l.seconds, 0),
    leaks,
    strays,
    destroySkews,
    costs,
  };
}

function relative(cost: number, billed: number): string {
  return billed > 0 ? `${(((cost - billed) / billed) * 100).toFixed(1)} %` : "nothing billed";
}

/** The spells an instance spent `running` (the GPU bills), from its state history. */
export function runningSpells(instance: AdminInstance): { from: number; to: number }[] {
  const out: { from: number; to: number }[] = [];
  const end = instance.destroyedAtMs ?? Number.POSITIVE_INFINITY;
  instance.history.forEach((entry, i) => {
    if (entry.actual_status !== "running") return;
    const to = Math.min(instance.history[i + 1]?.atMs ?? end, end);
    if (to > entry.atMs) out.push({ from: entry.atMs, to });
  });
  return out;
}

/**
 * When the attempt stopped being live: when its ending was written (the timeline's "attempt N
 * ended" entry, which the store writes only once the instance's destroy was recorded). Not
 * `endedAt`, which is the moment the attempt is priced to, and may be a little earlier than Vast's
 * destroy when the instance was found already gone.
 */
function endWrittenAt(job: JobSnapshot, attempt: AttemptRecord): number {
  if (attempt.endedAt === null) return Number.POSITIVE_INFINITY;
  const entry = job.timeline.find(
    (e) => e.kind === "attempt" && e.details.attempt === attempt.attempt && "outcome" in e.details,
  );
  return entry?.at ?? attempt.endedAt;
}

/** How long the instance spent stopped by its host (outbid) or offline after running, until destroyed. */
export function hostStoppedMs(instance: AdminInstance): number {
  const end = instance.destroyedAtMs ?? Number.POSITIVE_INFINITY;
  let total = 0;
  instance.history.forEach((entry, i) => {
    if (entry.reason !== "outbid" && entry.reason !== "host offline") return;
    const resumed = instance.history.slice(i + 1).find((h) => h.actual_status === "running");
    total += Math.max(0, Math.min(resumed?.atMs ?? end, end) - entry.atMs);
  });
  return Number.isFinite(total) ? total : 0;
}

function timelineViolations({ job, timeline }: JobSnapshot): string[] {
  const out: string[] = [];
  const transitions = timeline.filter((e) => e.kind === "transition");
  let state: JobRecord["state"] | null = null;
  const seen = new Set<string>();
  let finals = 0;
  for (const entry of transitions) {
    if (entry.event === null) {
      if (state !== null || entry.to !== "queued")
        out.push(`job ${job.jobId}: a second creation in its timeline`);
      state = "queued";
      continue;
    }
    if (state === null || entry.from !== state) {
      out.push(`job ${job.jobId}: ${entry.event} from ${entry.from} recorded while the job was ${state}`);
    }
    try {
      const to = nextState(entry.from ?? "queued", entry.event);
      if (to !== entry.to) out.push(`job ${job.jobId}: ${entry.event} led to ${entry.to}, not ${to}`);
    } catch {
      out.push(`job ${job.jobId}: illegal ${entry.event} from ${entry.from}`);
    }
    state = entry.to;
    if (entry.to && isTerminal(entry.to)) finals++;
    if (ONCE_PER_ATTEMPT.has(entry.event)) {
      const key = `${entry.event}#${String(entry.details.attempt ?? "?")}`;
      if (seen.has(key))
        out.push(`job ${job.jobId}: ${entry.event} recorded twice for attempt ${entry.details.attempt}`);
      seen.add(key);
    }
  }
  if (isTerminal(job.state) && finals !== 1) out.push(`job ${job.jobId}: ${finals} final transitions`);
  if (state !== job.state)
    out.push(`job ${job.jobId}: its timeline ends in ${state}, the job is ${job.state}`);
  const artifacts = timeline.filter((e) => e.details.kind === "artifact").length;
  if (artifacts > (job.state === "succeeded" ? 1 : 0) || (job.state === "succeeded" && artifacts !== 1)) {
    out.push(`job ${job.jobId} (${job.state}): ${artifacts} artifacts recorded`);
  }
  return out;
}

function chargeViolations({ job, attempts, strays }: JobSnapshot): string[] {
  const out: string[] = [];
  for (const a of attempts) {
    if (a.endedAt === null) out.push(`job ${job.jobId}: attempt ${a.attempt} never ended (${a.outcome})`);
    else if (a.costUsd === null) out.push(`job ${job.jobId}: attempt ${a.attempt} ended without a charge`);
  }
  const charged =
    attempts.reduce((sum, a) => sum + (a.costUsd ?? 0), 0) +
    strays.reduce((sum, s) => sum + s.cost.gpuUsd + s.cost.storageUsd + s.cost.bandwidthUsd, 0);
  const total = job.costUsd ?? job.spentUsd;
  if (Math.abs(total - charged) > 1e-9 + 1e-9 * charged) {
    out.push(
      `job ${job.jobId}: charged $${total.toFixed(9)} in all, but its attempts and strays add up to $${charged.toFixed(9)}`,
    );
  }
  return out;
}
