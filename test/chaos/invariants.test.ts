/**
 * The chaos run's checker on fabricated histories: it passes a clean one and names each kind of
 * breach — an instance alive at the end or without a live attempt, a job holding two instances (or
 * two billing GPUs) at once, a training launched twice, a step recorded twice, an illegal
 * transition, an attempt charged twice or never, a cost off the ledger — so a chaos run that
 * passes means something.
 */
import { describe, expect, it } from "vitest";
import type { AttemptRecord, JobRecord, TimelineEntry } from "../../packages/core/src/store";
import type { AdminInstance, HistoryEntry } from "../../packages/vast-sim/src/index";
import { type ChaosSnapshot, checkChaosInvariants, hostStoppedMs, type JobSnapshot } from "./invariants";

const T0 = 1_800_000_000_000;
const JOB = "job_a";
const GPU_DPH = 0.36; // $/h: 0.0001 $/s
const STORAGE_DPH = 0.036;

function history(entries: [number, HistoryEntry["actual_status"], string][]): HistoryEntry[] {
  return entries.map(([at, status, reason]) => ({
    atMs: T0 + at * 1000,
    actual_status: status,
    intended_status: "running",
    cur_state: "running",
    status_msg: null,
    reason,
  }));
}

/** An instance of attempt `attempt`, created at `from` s, running from `from + 3` s, destroyed at `to` s. */
function instance(id: number, attempt: number, from: number, to: number | null): AdminInstance {
  const runningSeconds = Math.max(0, (to ?? from + 100) - from - 3);
  const storageSeconds = (to ?? from + 100) - from;
  const gpu = Math.round(((GPU_DPH * runningSeconds) / 3600) * 1e6);
  const storage = Math.round(((STORAGE_DPH * storageSeconds) / 3600) * 1e6);
  return {
    id,
    offerId: 1,
    machineId: 1,
    label: `vast-rental:${JOB}:${attempt}`,
    createdAtMs: T0 + from * 1000,
    destroyedAtMs: to === null ? null : T0 + to * 1000,
    actualStatus: to === null ? "running" : "destroyed",
    intendedStatus: "running",
    curState: "running",
    statusMsg: null,
    sshPort: 0,
    hostKeyFingerprint: null,
    rootDir: "/nowhere",
    instanceApiKey: "k",
    bytesReceived: 0,
    history: history([
      [from, null, "created"],
      [from + 3, "running", "started"],
      ...(to === null ? [] : ([[to, "destroyed", "destroy requested"]] as [number, "destroyed", string][])),
    ]),
    ledger: {
      instanceId: id,
      runningSeconds,
      storageSeconds,
      bytesReceived: 0,
      gpuDph: GPU_DPH,
      storageDph: STORAGE_DPH,
      bandwidthUsdPerGb: 0,
      gpuMicros: gpu,
      storageMicros: storage,
      bandwidthMicros: 0,
      totalMicros: gpu + storage,
      totalUsd: Math.round((gpu + storage) / 10_000) / 100,
    },
    vast: null,
  };
}

function attempt(n: number, inst: AdminInstance, overrides: Partial<AttemptRecord> = {}): AttemptRecord {
  const cost = inst.ledger.totalMicros / 1e6;
  return {
    jobId: JOB,
    attempt: n,
    offerId: 1,
    machineId: 1,
    hourlyUsd: GPU_DPH + STORAGE_DPH,
    gpuName: "RTX 4090",
    label: inst.label!,
    outcome: "succeeded",
    startedAt: inst.createdAtMs,
    instanceId: inst.id,
    rentedAt: inst.createdAtMs,
    endedAt: inst.destroyedAtMs,
    sshHost: null,
    sshPort: null,
    hostKeyFingerprint: null,
    failureReason: null,
    costUsd: cost,
    cost: {
      gpuUsd: inst.ledger.gpuMicros / 1e6,
      storageUsd: inst.ledger.storageMicros / 1e6,
      bandwidthUsd: 0,
    },
    gpuHourlyUsd: GPU_DPH,
    storageHourlyUsd: STORAGE_DPH,
    bandwidthUsdPerGb: 0,
    runningSince: inst.createdAtMs + 3000,
    bytesPushed: 0,
    unresolvedSince: null,
    labelLookups: 0,
    labelMissedAt: null,
    endRequestedAt: inst.destroyedAtMs,
    endIntent: null,
    destroyedAt: inst.destroyedAtMs,
    destroyVerifiedAt: inst.destroyedAtMs,
    readinessCheck: 0,
    readinessCheckAt: null,
    readinessMessageId: null,
    ...overrides,
  };
}

const transition = (
  version: number,
  event: TimelineEntry["event"],
  from: TimelineEntry["from"],
  to: TimelineEntry["to"],
  details: Record<string, unknown> = {},
): TimelineEntry => ({
  at: T0 + version,
  version,
  kind: "transition",
  event,
  from,
  to,
  reason: "r",
  details,
});

/** A job that succeeded on its first attempt: the clean history every case below breaks once. */
function cleanJob(inst: AdminInstance): JobSnapshot {
  const a = attempt(1, inst);
  const job: JobRecord = {
    jobId: JOB,
    state: "succeeded",
    version: 6,
    request: {} as JobRecord["request"],
    idempotencyKey: null,
    requestHash: "h",
    createdAt: T0,
    updatedAt: T0,
    deadlineAt: T0 + 3_600_000,
    attempt: 1,
    spentUsd: a.costUsd!,
    costBreakdown: a.cost!,
    dataset: null,
    reason: "LoRA stored",
    costUsd: a.costUsd,
    artifact: { bucket: "b", key: "k", bytes: 1, sha256: "s" },
    endedAt: inst.destroyedAtMs,
  };
  return {
    job,
    attempts: [a],
    strays: [],
    timeline: [
      { ...transition(0, null, null, "queued"), reason: "submitted" },
      transition(1, "provision_started", "queued", "provisioning"),
      transition(2, "instance_created", "provisioning", "booting", { attempt: 1 }),
      transition(3, "instance_ready", "booting", "pushing", { attempt: 1 }),
      transition(4, "training_started", "pushing", "training", { attempt: 1 }),
      transition(5, "training_finished", "training", "collecting", { attempt: 1 }),
      { ...transition(5, null, null, null), kind: "note", details: { kind: "artifact", attempt: 1 } },
      transition(6, "artifact_collected", "collecting", "succeeded"),
    ],
  };
}

function snapshot(jobs: JobSnapshot[], instances: AdminInstance[], launches = {}): ChaosSnapshot {
  return { jobs, instances, launches, strayLimitSeconds: 30 };
}

describe("the chaos run's invariant checker", () => {
  it("passes a clean history", () => {
    const inst = instance(1, 1, 0, 60);
    const result = checkChaosInvariants(snapshot([cleanJob(inst)], [inst], { 1: [30] }));
    expect(result.violations).toEqual([]);
    expect(result.leakedInstanceSeconds).toBe(0);
  });

  it("names an instance still alive at the end", () => {
    const inst = instance(1, 1, 0, null);
    const job = cleanJob(instance(1, 1, 0, 60));
    const { violations } = checkChaosInvariants(snapshot([job], [inst]));
    expect(violations).toContainEqual(expect.stringMatching(/instance 1 .* is still alive at the end/));
  });

  it("counts the seconds an instance lived after its attempt ended, and one no attempt knows", () => {
    const inst = instance(1, 1, 0, 60);
    const job = cleanJob(inst);
    job.attempts[0] = { ...job.attempts[0]!, endedAt: T0 + 45_000 };
    job.timeline.push({
      at: T0 + 45_000,
      version: 6,
      kind: "attempt",
      event: null,
      from: null,
      to: null,
      reason: "attempt 1 ended (succeeded)",
      details: { attempt: 1, outcome: "succeeded" },
    });
    const stray = { ...instance(2, 7, 10, 30) };
    const result = checkChaosInvariants(snapshot([job], [inst, stray]));
    expect(result.leaks).toEqual([
      { instanceId: 1, jobId: JOB, seconds: 15 },
      { instanceId: 2, jobId: JOB, seconds: 20 },
    ]);
    expect(result.leakedInstanceSeconds).toBe(35);
    expect(result.violations).toContainEqual(
      expect.stringMatching(/instance 2 .* 20\.0 s without a live attempt \(no such attempt\)/),
    );
  });

  it("counts a stray charged to its job apart, and names one that lived past the limit", () => {
    const inst = instance(1, 1, 0, 60);
    const job = cleanJob(inst);
    const stray = instance(2, 2, 50, 70);
    job.attempts.push(
      attempt(2, stray, { outcome: "not_rented", instanceId: null, endedAt: T0 + 55_000, costUsd: 0 }),
    );
    const charge = {
      jobId: JOB,
      instanceId: 2,
      attempt: 2,
      at: T0 + 70_000,
      reason: "stray",
      cost: {
        gpuUsd: stray.ledger.gpuMicros / 1e6,
        storageUsd: stray.ledger.storageMicros / 1e6,
        bandwidthUsd: 0,
      },
    };
    job.strays = [charge];
    const total = (job.job.costUsd ?? 0) + stray.ledger.totalMicros / 1e6;
    job.job = { ...job.job, costUsd: total, spentUsd: total };
    const within = checkChaosInvariants(snapshot([job], [inst, stray]));
    expect(within.strays).toEqual([{ instanceId: 2, jobId: JOB, seconds: 15 }]);
    expect(within.leakedInstanceSeconds).toBe(0);
    // It overlapped instance 1: the one overlap the design admits, held to its own limit.
    expect(within.violations).toEqual([]);
    const late = { ...instance(2, 2, 50, 100), ledger: stray.ledger };
    expect(checkChaosInvariants(snapshot([job], [inst, late])).violations).toContainEqual(
      `stray instance 2 of job ${JOB} lived 45.0 s after its attempt ended (limit 30 s)`,
    );
    // Not charged to its job: leaked.
    job.strays = [];
    expect(checkChaosInvariants(snapshot([job], [inst, stray])).leakedInstanceSeconds).toBe(15);
  });

  it("names a job that held two instances at once, and two GPUs billing at once", () => {
    const first = instance(1, 1, 0, 60);
    const second = instance(2, 2, 50, 120);
    const job = cleanJob(second);
    job.attempts = [attempt(1, first, { outcome: "failed" }), attempt(2, second)];
    job.job.spentUsd = job.job.costUsd = job.attempts.reduce((sum, a) => sum + a.costUsd!, 0);
    const { violations } = checkChaosInvariants(snapshot([job], [first, second]));
    expect(violations).toContainEqual(`job ${JOB} held instances 1 and 2 at the same time`);
    expect(violations).toContainEqual(`job ${JOB} had instances 1 and 2 billing the GPU at the same time`);
  });

  it("names a training launched twice on one instance", () => {
    const inst = instance(1, 1, 0, 60);
    const { violations } = checkChaosInvariants(snapshot([cleanJob(inst)], [inst], { 1: [30, 31] }));
    expect(violations).toEqual(["instance 1: training launched 2 times (pids 30, 31)"]);
  });

  it("names a step recorded twice, an illegal transition, and a job that did not end", () => {
    const inst = instance(1, 1, 0, 60);
    const twice = cleanJob(inst);
    twice.timeline.splice(4, 0, transition(3, "instance_ready", "booting", "pushing", { attempt: 1 }));
    expect(checkChaosInvariants(snapshot([twice], [inst])).violations).toContainEqual(
      `job ${JOB}: instance_ready recorded twice for attempt 1`,
    );
    const illegal = cleanJob(inst);
    illegal.timeline[4] = transition(4, "training_started", "booting", "training", { attempt: 1 });
    expect(checkChaosInvariants(snapshot([illegal], [inst])).violations).toContainEqual(
      `job ${JOB}: illegal training_started from booting`,
    );
    const open = cleanJob(inst);
    open.job = { ...open.job, state: "collecting" };
    open.timeline = open.timeline.slice(0, -1);
    expect(checkChaosInvariants(snapshot([open], [inst])).violations).toContainEqual(
      `job ${JOB} did not end: collecting`,
    );
  });

  it("names an attempt charged twice, or never", () => {
    const inst = instance(1, 1, 0, 60);
    const twice = cleanJob(inst);
    twice.job = { ...twice.job, costUsd: (twice.job.costUsd ?? 0) * 2, spentUsd: twice.job.spentUsd * 2 };
    expect(checkChaosInvariants(snapshot([twice], [inst])).violations).toContainEqual(
      expect.stringMatching(/charged \$[\d.]+ in all, but its attempts and strays add up to/),
    );
    const never = cleanJob(inst);
    never.attempts = [{ ...never.attempts[0]!, endedAt: null, costUsd: null }];
    expect(checkChaosInvariants(snapshot([never], [inst])).violations).toContainEqual(
      `job ${JOB}: attempt 1 never ended (succeeded)`,
    );
  });

  it("names a destroy recorded long after Vast did it (charged for time Vast did not bill)", () => {
    const inst = instance(1, 1, 0, 600);
    const late = cleanJob(inst);
    late.attempts = [{ ...late.attempts[0]!, destroyedAt: T0 + 630_000 }];
    const result = checkChaosInvariants(snapshot([late], [inst]));
    expect(result.destroySkews).toEqual([30]);
    expect(result.violations).toContainEqual(
      `job ${JOB} attempt 1: instance 1's destroy recorded 30.0 s after Vast did it`,
    );
  });

  it("names a cost off the ledger by more than 2 %, and allows the GPU charged while a host had stopped the instance", () => {
    const inst = instance(1, 1, 0, 600);
    const under = cleanJob(inst);
    under.job = { ...under.job, costUsd: (under.job.costUsd ?? 0) * 0.9 };
    under.attempts = [{ ...under.attempts[0]!, costUsd: under.job.costUsd }];
    expect(checkChaosInvariants(snapshot([under], [inst])).violations).toContainEqual(
      expect.stringMatching(/cost \$[\d.]+ but the simulator billed \$[\d.]+ \(-10\.0 %\)/),
    );
    // Outbid 300 s before its destroy: the job is charged as running until then, on purpose.
    const outbid = instance(1, 1, 0, 600);
    outbid.history.splice(2, 0, ...history([[300, "stopped", "outbid"]]));
    const gpuMicros = Math.round(((GPU_DPH * 297) / 3600) * 1e6);
    outbid.ledger = { ...outbid.ledger, gpuMicros, totalMicros: gpuMicros + outbid.ledger.storageMicros };
    expect(hostStoppedMs(outbid)).toBe(300_000);
    const charged = cleanJob(inst);
    expect(checkChaosInvariants(snapshot([charged], [outbid])).violations).toEqual([]);
  });
});
