/**
 * The simulator's control surface (the in-process `admin` object; the same operations are served
 * under `/_sim/`): every instance ever created with its state history and ledger, the total
 * ledger, faults, the clock, training behaviour, Vast API call counts, reset.
 */
import { z } from "zod";
import {
  type ActiveFault,
  type FaultSpecInput,
  FaultSpecSchema,
  type InjectedFaultKind,
  type RandomFaultProfileInput,
  RandomFaultProfileSchema,
} from "./faults";
import type { HistoryEntry } from "./instance";
import { renderInstance } from "./instance-view";
import { type InstanceLedger, type LedgerAmounts, totalLedger } from "./ledger";
import type { SimOffer } from "./marketplace";
import type { RequestCounts } from "./request-counts";
import type { SimState } from "./state";

export const TrainingBehaviourSchema = z.object({
  durationSeconds: z.number().nonnegative().default(120),
  fail: z.boolean().default(false),
  exitCode: z.number().int().min(1).max(255).optional(),
  failMessage: z.string().optional(),
  /** Progress lines the run prints over its duration (10 by default; more for a finer reading). */
  progressTicks: z.number().int().min(1).max(10_000).optional(),
  /** Hold the run after this many of its progress lines until `releaseTraining` (tests). */
  holdAfterTicks: z.number().int().min(1).optional(),
});
export type TrainingBehaviourInput = z.input<typeof TrainingBehaviourSchema>;

export interface AdminInstance {
  id: number;
  offerId: number;
  machineId: number;
  label: string | null;
  createdAtMs: number;
  destroyedAtMs: number | null;
  actualStatus: string | null;
  intendedStatus: string;
  curState: string;
  statusMsg: string | null;
  sshPort: number;
  hostKeyFingerprint: string | null;
  rootDir: string;
  instanceApiKey: string;
  bytesReceived: number;
  history: HistoryEntry[];
  ledger: InstanceLedger;
  /** What `GET /api/v0/instances/{id}/` shows now (null once destroyed). */
  vast: Record<string, unknown> | null;
}

export interface SimAdmin {
  /** Simulated epoch ms. */
  now(): number;
  /**
   * Moves simulated time forward: lifecycle transitions and late creates due by then happen,
   * stamped when they were due.
   */
  advance(seconds: number): void;
  instances(): AdminInstance[];
  instance(id: number): AdminInstance | null;
  ledger(): { total: LedgerAmounts; instances: InstanceLedger[] };
  offers(): SimOffer[];
  /** Adds a fault. Faults naming an existing instance (and outbid/offline) apply at once. */
  addFault(spec: FaultSpecInput): Promise<{ id: number | null; applied: boolean }>;
  faults(): ActiveFault[];
  removeFault(id: number): boolean;
  clearFaults(): void;
  setFaultProfile(profile: RandomFaultProfileInput | null): void;
  /** Faults that took effect since start (or the last reset), by kind, random and explicit alike. */
  faultCounts(): Partial<Record<InjectedFaultKind, number>>;
  setTrainingBehaviour(instanceId: number, behaviour: TrainingBehaviourInput): Promise<void>;
  /** Lets a run held by `holdAfterTicks` go on (to its end, or its failure). */
  releaseTraining(instanceId: number): Promise<void>;
  /** Vast API calls served since start (or the last reset), faulted and refused ones included. */
  requestCounts(): RequestCounts;
  resetRequestCounts(): void;
  /** Back to the seed's world: no instances, faults, pending late creates, request or fault counts. */
  reset(): Promise<void>;
}

export function createAdmin(state: SimState): SimAdmin {
  const describe = (id: number): AdminInstance | null => {
    state.materialiseDue();
    const inst = state.instances.get(id);
    if (!inst) return null;
    state.refresh(inst);
    return {
      id: inst.id,
      offerId: inst.offer.id,
      machineId: inst.offer.machine_id,
      label: inst.label,
      createdAtMs: inst.createdAtMs,
      destroyedAtMs: inst.destroyedAtMs,
      actualStatus: inst.destroyedAtMs === null ? inst.actual : "destroyed",
      intendedStatus: inst.intended,
      curState: inst.cur,
      statusMsg: inst.statusMsg,
      sshPort: inst.sshPort,
      hostKeyFingerprint: inst.hostKeyFingerprint,
      rootDir: inst.rootDir,
      instanceApiKey: inst.apiKey,
      bytesReceived: inst.bytesReceived,
      history: inst.history.map((h) => ({ ...h })),
      ledger: state.ledgerOf(inst),
      vast: inst.destroyedAtMs === null ? renderInstance(inst, state.clock.now()) : null,
    };
  };
  return {
    now: () => state.clock.now(),
    advance: (seconds) => {
      state.clock.advance(seconds);
      state.refreshAll();
    },
    instances: () => {
      state.materialiseDue();
      return [...state.instances.keys()].map((id) => describe(id)!);
    },
    instance: describe,
    ledger: () => {
      state.materialiseDue();
      const instances = [...state.instances.values()].map((i) => state.ledgerOf(i));
      return { total: totalLedger(instances), instances };
    },
    offers: () => {
      state.materialiseDue();
      return state.market.all().map((o) => ({ ...o }));
    },
    addFault: async (input) => {
      const spec = FaultSpecSchema.parse(input);
      if (spec.kind === "destroy_ignored") {
        // Waits for a destroy call even when it names its instance (which must exist).
        if (spec.instanceId !== undefined) state.liveOrThrow(spec.instanceId);
        return { id: state.faults.add(spec).id, applied: false };
      }
      if ("instanceId" in spec && spec.instanceId !== undefined) {
        await state.applyToInstance({ ...spec, instanceId: spec.instanceId });
        return { id: null, applied: true };
      }
      return { id: state.faults.add(spec).id, applied: false };
    },
    faults: () => state.faults.list(),
    removeFault: (id) => state.faults.remove(id),
    clearFaults: () => state.faults.clear(),
    setFaultProfile: (profile) =>
      state.faults.setProfile(profile === null ? null : RandomFaultProfileSchema.parse(profile)),
    faultCounts: () => {
      // Host events due by now happen before they are counted.
      state.refreshAll();
      return state.faults.counts();
    },
    setTrainingBehaviour: async (instanceId, behaviour) => {
      const inst = state.liveOrThrow(instanceId);
      const b = TrainingBehaviourSchema.parse(behaviour);
      await state.setTrainingBehaviour(inst, {
        durationSeconds: b.durationSeconds,
        fail: b.fail,
        ...(b.exitCode !== undefined ? { exitCode: b.exitCode } : {}),
        ...(b.failMessage !== undefined ? { failMessage: b.failMessage } : {}),
        ...(b.progressTicks !== undefined ? { progressTicks: b.progressTicks } : {}),
        ...(b.holdAfterTicks !== undefined ? { holdAfterTicks: b.holdAfterTicks } : {}),
      });
    },
    releaseTraining: async (instanceId) => {
      await state.releaseTraining(state.liveOrThrow(instanceId));
    },
    requestCounts: () => state.requests.snapshot(),
    resetRequestCounts: () => state.requests.reset(),
    reset: () => state.reset(),
  };
}
