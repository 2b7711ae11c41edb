/**
 * Fault injection. Faults are set at runtime (admin API / `admin.addFault`) or drawn from a
 * seeded random profile. Endpoint faults (errors, latency, 429s) hit the next N calls to an
 * endpoint; create faults hit the next N creates (optionally of one offer); destroy faults hit
 * the next N destroys (optionally of one instance); instance faults target one instance, or the
 * next instance created when no `instanceId` is given; host profiles shape the next N instances,
 * or every instance on one machine while the fault is active. Every fault that takes effect is
 * counted by kind (`FaultBook.counts`), so a run can say what it went through.
 */
import { z } from "zod";
import { type Endpoint, EndpointTargetSchema } from "./endpoints";
import { type HostProfile, HostProfileSchema } from "./host-profile";
import { createRng, type Rng } from "./random";

const times = z.number().int().positive().default(1);

export const FaultSpecSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("http_error"),
    endpoint: EndpointTargetSchema,
    status: z.number().int().min(500).max(599).default(500),
    times,
  }),
  z.object({
    kind: z.literal("latency"),
    endpoint: EndpointTargetSchema,
    ms: z.number().int().nonnegative(),
    times,
  }),
  z.object({
    kind: z.literal("rate_limit"),
    endpoint: EndpointTargetSchema,
    /** Vast answers 429 as plain text, `{"detail":…}` or `{error:"rate_limit_exceeded"}`. */
    style: z.enum(["text", "detail", "json"]).default("text"),
    times,
  }),
  /** Someone else rents the offer between search and create: the create gets `no_such_ask`. */
  z.object({ kind: z.literal("offer_vanish"), offerId: z.number().int().optional(), times }),
  /** The race Vast allows: a create on an already-rented offer succeeds too. */
  z.object({ kind: z.literal("double_rent"), offerId: z.number().int().optional(), times }),
  /** Create answers an error although the instance was created (find it by label). */
  z.object({
    kind: z.literal("create_error_after_create"),
    status: z.number().int().min(400).max(599).default(500),
    times,
  }),
  /**
   * An ambiguous create that completes after the client gave up on it: the call answers a 5xx
   * and creates nothing, then the instance appears `delaySeconds` (simulated) later.
   */
  z.object({
    kind: z.literal("late_create"),
    status: z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(504)]).default(504),
    delaySeconds: z.number().nonnegative().default(30),
    offerId: z.number().int().optional(),
    times,
  }),
  /** Destroy answers success but the instance lives on (listed, billing): clients must verify. */
  z.object({ kind: z.literal("destroy_ignored"), instanceId: z.number().int().optional(), times }),
  z.object({ kind: z.literal("stuck_loading"), instanceId: z.number().int().optional() }),
  z.object({
    kind: z.literal("fatal"),
    instanceId: z.number().int().optional(),
    status: z.enum(["created", "exited"]).default("created"),
    statusMsg: z.string().optional(),
  }),
  /** Interruptible instance outbid: stopped now (storage keeps billing). Needs an instance. */
  z.object({ kind: z.literal("outbid"), instanceId: z.number().int() }),
  /** Host offline (`actual_status: "offline"`, SSH closed) or back online. */
  z.object({ kind: z.literal("offline"), instanceId: z.number().int(), offline: z.boolean().default(true) }),
  /** Show returns the state before the latest transition for the next N reads. */
  z.object({ kind: z.literal("stale_reads"), instanceId: z.number().int().optional(), times }),
  /** SSH refuses connections for N simulated seconds after the instance reports running. */
  z.object({
    kind: z.literal("ssh_refuse"),
    instanceId: z.number().int().optional(),
    seconds: z.number().positive(),
  }),
  /** SSH drops the connection after N more bytes received on a channel. */
  z.object({
    kind: z.literal("ssh_drop"),
    instanceId: z.number().int().optional(),
    afterBytes: z.number().int().nonnegative(),
  }),
  /**
   * What the host looks like from inside (GPUs, driver, disk, torch, ai-toolkit: host-profile.ts),
   * decided when an instance is created: on one machine for as long as the fault is active, or for
   * the next `times` instances created (any machine) without `machineId`.
   */
  z.object({
    kind: z.literal("host_profile"),
    machineId: z.number().int().optional(),
    profile: HostProfileSchema,
    times,
  }),
]);
export type FaultSpec = z.infer<typeof FaultSpecSchema>;
export type FaultSpecInput = z.input<typeof FaultSpecSchema>;

export const RandomFaultProfileSchema = z.object({
  seed: z.number().int().default(1),
  /** Probability per API call of a 5xx. */
  http5xx: z.number().min(0).max(1).default(0),
  /** Probability per API call of a 429. */
  rateLimit: z.number().min(0).max(1).default(0),
  /** Probability per API call of added latency, uniformly in latencyMs. */
  latency: z.number().min(0).max(1).default(0),
  latencyMs: z.tuple([z.number(), z.number()]).default([50, 300]),
  /** Per create. */
  offerVanish: z.number().min(0).max(1).default(0),
  createErrorAfterCreate: z.number().min(0).max(1).default(0),
  /** Per create: a 504, and the instance appears after a delay drawn uniformly in lateCreateSeconds. */
  lateCreate: z.number().min(0).max(1).default(0),
  lateCreateSeconds: z.tuple([z.number().nonnegative(), z.number().nonnegative()]).default([10, 60]),
  /** Per instance, decided at create. */
  stuckLoading: z.number().min(0).max(1).default(0),
  fatal: z.number().min(0).max(1).default(0),
  sshRefuse: z.number().min(0).max(1).default(0),
  sshRefuseSeconds: z.number().positive().default(20),
  /** Per show call. */
  staleRead: z.number().min(0).max(1).default(0),
  /** Per create of an offer someone already rented (two renters raced for it): the create succeeds too. */
  doubleRent: z.number().min(0).max(1).default(0),
  /** Per instance: SSH drops the connection after a number of received bytes drawn in sshDropBytes. */
  sshDrop: z.number().min(0).max(1).default(0),
  sshDropBytes: z
    .tuple([z.number().int().nonnegative(), z.number().int().nonnegative()])
    .default([1_000, 300_000]),
  /** Per instance: outbid (stopped by the host) once it has run a time drawn in outbidAfterSeconds. */
  outbid: z.number().min(0).max(1).default(0),
  outbidAfterSeconds: z.tuple([z.number().nonnegative(), z.number().nonnegative()]).default([0, 60]),
  /** Per instance: its host goes offline once it has run a time drawn in offlineAfterSeconds. */
  offline: z.number().min(0).max(1).default(0),
  offlineAfterSeconds: z.tuple([z.number().nonnegative(), z.number().nonnegative()]).default([0, 60]),
});
export type RandomFaultProfile = z.infer<typeof RandomFaultProfileSchema>;
export type RandomFaultProfileInput = z.input<typeof RandomFaultProfileSchema>;

/** A create Vast accepted but answered with an error, carried out `delaySeconds` later. */
export interface LateCreate {
  status: number;
  delaySeconds: number;
}

export const FATAL_MESSAGES = {
  created:
    "Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running hook #0: error running hook: exit status 1, stdout: , stderr: Auto-detected mode as 'legacy'\nnvidia-container-cli: initialization error: nvml error: driver/library version mismatch: unknown",
  exited:
    "Error response from daemon: pull access denied for private/trainer, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
} as const;

export interface ActiveFault {
  id: number;
  spec: FaultSpec;
  remaining: number;
}

/** A host event drawn for a new instance: it happens once the instance has run this long. */
export interface ScheduledHostEvent {
  kind: "host_event";
  event: "outbid" | "offline";
  afterRunningSeconds: number;
}

/** Instance faults chosen for a new instance at create time. */
export type InstanceFault =
  | Extract<FaultSpec, { kind: "stuck_loading" | "fatal" | "stale_reads" | "ssh_refuse" | "ssh_drop" }>
  | ScheduledHostEvent;

/**
 * What the counts are kept under: one name per fault kind, the endpoint faults named by what the
 * caller sees (`http_5xx`, `rate_limit_429`).
 */
export type InjectedFaultKind =
  | "http_5xx"
  | "rate_limit_429"
  | "latency"
  | "offer_vanish"
  | "double_rent"
  | "create_error_after_create"
  | "late_create"
  | "destroy_ignored"
  | "stuck_loading"
  | "fatal"
  | "stale_read"
  | "ssh_refuse"
  | "ssh_drop"
  | "outbid"
  | "offline";
export type EndpointFault = Extract<FaultSpec, { kind: "http_error" | "latency" | "rate_limit" }>;

const INSTANCE_KINDS = new Set(["stuck_loading", "fatal", "stale_reads", "ssh_refuse", "ssh_drop"]);

export class FaultBook {
  private active: ActiveFault[] = [];
  private nextId = 1;
  private rng: Rng | null;
  private injected = new Map<InjectedFaultKind, number>();

  constructor(private profile: RandomFaultProfile | null = null) {
    this.rng = profile ? createRng(profile.seed) : null;
  }

  setProfile(profile: RandomFaultProfile | null): void {
    this.profile = profile;
    this.rng = profile ? createRng(profile.seed) : null;
  }

  getProfile(): RandomFaultProfile | null {
    return this.profile;
  }

  add(spec: FaultSpec): ActiveFault {
    const remaining = "times" in spec ? spec.times : 1;
    const fault = { id: this.nextId++, spec, remaining };
    this.active.push(fault);
    return fault;
  }

  list(): ActiveFault[] {
    return this.active.map((f) => ({ ...f }));
  }

  remove(id: number): boolean {
    const before = this.active.length;
    this.active = this.active.filter((f) => f.id !== id);
    return this.active.length < before;
  }

  clear(): void {
    this.active = [];
  }

  /** Counts a fault that took effect. */
  note(kind: InjectedFaultKind): void {
    this.injected.set(kind, (this.injected.get(kind) ?? 0) + 1);
  }

  /** Faults that took effect since start (or the last reset), by kind; kinds never seen are left out. */
  counts(): Partial<Record<InjectedFaultKind, number>> {
    return Object.fromEntries([...this.injected].sort(([a], [b]) => a.localeCompare(b)));
  }

  resetCounts(): void {
    this.injected.clear();
  }

  /** Draws only when `p` > 0, so a profile without this fault keeps its exact random sequence. */
  private draw(p: number): boolean {
    return p > 0 && this.rng !== null && this.rng.chance(p);
  }

  private between([min, max]: readonly [number, number]): number {
    return min + (this.rng?.next() ?? 0) * (max - min);
  }

  private consume<K extends FaultSpec["kind"]>(
    pred: (spec: FaultSpec) => spec is Extract<FaultSpec, { kind: K }>,
  ): Extract<FaultSpec, { kind: K }> | null {
    const fault = this.active.find((f) => pred(f.spec));
    if (!fault) return null;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.active = this.active.filter((f) => f !== fault);
    return fault.spec as Extract<FaultSpec, { kind: K }>;
  }

  /** The endpoint faults that apply to this call (each consumed once): latency first, then an error or 429. */
  forCall(endpoint: Endpoint): EndpointFault[] {
    const hits = (s: FaultSpec, kind: string) =>
      s.kind === kind && "endpoint" in s && (s.endpoint === "*" || s.endpoint === endpoint);
    const out: EndpointFault[] = [];
    const latency = this.consume((s): s is Extract<FaultSpec, { kind: "latency" }> => hits(s, "latency"));
    if (latency) out.push(latency);
    const failure = this.consume(
      (s): s is Extract<FaultSpec, { kind: "http_error" | "rate_limit" }> =>
        hits(s, "http_error") || hits(s, "rate_limit"),
    );
    if (failure) out.push(failure);
    const p = this.profile;
    if (p && this.rng) {
      if (!latency && this.rng.chance(p.latency)) {
        out.unshift({
          kind: "latency",
          endpoint,
          ms: Math.round(p.latencyMs[0] + this.rng.next() * (p.latencyMs[1] - p.latencyMs[0])),
          times: 1,
        });
      }
      if (!failure && this.rng.chance(p.http5xx)) {
        out.push({ kind: "http_error", endpoint, status: this.rng.pick([500, 502, 503, 504]), times: 1 });
      } else if (!failure && this.rng.chance(p.rateLimit)) {
        out.push({
          kind: "rate_limit",
          endpoint,
          style: this.rng.pick(["text", "detail", "json"] as const),
          times: 1,
        });
      }
    }
    for (const fault of out) {
      this.note(
        fault.kind === "latency" ? "latency" : fault.kind === "rate_limit" ? "rate_limit_429" : "http_5xx",
      );
    }
    return out;
  }

  takeOfferVanish(offerId: number): boolean {
    const hit = this.consume(
      (s): s is Extract<FaultSpec, { kind: "offer_vanish" }> =>
        s.kind === "offer_vanish" && (s.offerId === undefined || s.offerId === offerId),
    );
    const vanish = hit !== null || (this.rng?.chance(this.profile?.offerVanish ?? 0) ?? false);
    if (vanish) this.note("offer_vanish");
    return vanish;
  }

  /** Asked only for a create of an offer that is already rented. */
  takeDoubleRent(offerId: number): boolean {
    const hit =
      this.consume(
        (s): s is Extract<FaultSpec, { kind: "double_rent" }> =>
          s.kind === "double_rent" && (s.offerId === undefined || s.offerId === offerId),
      ) !== null || this.draw(this.profile?.doubleRent ?? 0);
    if (hit) this.note("double_rent");
    return hit;
  }

  takeCreateErrorAfterCreate(): number | null {
    const hit = this.consume(
      (s): s is Extract<FaultSpec, { kind: "create_error_after_create" }> =>
        s.kind === "create_error_after_create",
    );
    const status = hit
      ? hit.status
      : this.rng?.chance(this.profile?.createErrorAfterCreate ?? 0)
        ? 500
        : null;
    if (status !== null) this.note("create_error_after_create");
    return status;
  }

  /** Checked only for a create that would succeed, so a late create is always a real rental. */
  takeLateCreate(offerId: number): LateCreate | null {
    const hit = this.consume(
      (s): s is Extract<FaultSpec, { kind: "late_create" }> =>
        s.kind === "late_create" && (s.offerId === undefined || s.offerId === offerId),
    );
    if (hit) {
      this.note("late_create");
      return { status: hit.status, delaySeconds: hit.delaySeconds };
    }
    const p = this.profile;
    // No draw at probability 0: profiles without late creates keep their exact random sequence.
    if (!p || !this.rng || p.lateCreate === 0 || !this.rng.chance(p.lateCreate)) return null;
    const [min, max] = p.lateCreateSeconds;
    this.note("late_create");
    // A gateway timeout is how a create that Vast keeps working on looks from outside.
    return { status: 504, delaySeconds: Math.round(min + this.rng.next() * (max - min)) };
  }

  /**
   * The host profile of a new instance on `machineId`: the machine's own (kept while the fault is
   * active), else the next one waiting for any instance (consumed), else null (a healthy host).
   */
  takeHostProfile(machineId: number): HostProfile | null {
    const mine = this.active.find((f) => f.spec.kind === "host_profile" && f.spec.machineId === machineId);
    if (mine?.spec.kind === "host_profile") return mine.spec.profile;
    const next = this.consume(
      (s): s is Extract<FaultSpec, { kind: "host_profile" }> =>
        s.kind === "host_profile" && s.machineId === undefined,
    );
    return next?.profile ?? null;
  }

  takeDestroyIgnored(instanceId: number): boolean {
    const hit =
      this.consume(
        (s): s is Extract<FaultSpec, { kind: "destroy_ignored" }> =>
          s.kind === "destroy_ignored" && (s.instanceId === undefined || s.instanceId === instanceId),
      ) !== null;
    if (hit) this.note("destroy_ignored");
    return hit;
  }

  /** Instance faults waiting for the next instance created (consumed), plus random-profile draws. */
  takeForNewInstance(): InstanceFault[] {
    const pending = this.active.filter(
      (f) => INSTANCE_KINDS.has(f.spec.kind) && (f.spec as { instanceId?: number }).instanceId === undefined,
    );
    this.active = this.active.filter((f) => !pending.includes(f));
    const out = pending.map((f) => f.spec as InstanceFault);
    const p = this.profile;
    if (p && this.rng) {
      if (this.rng.chance(p.stuckLoading)) out.push({ kind: "stuck_loading" });
      else if (this.rng.chance(p.fatal))
        out.push({ kind: "fatal", status: this.rng.pick(["created", "exited"] as const) });
      if (this.rng.chance(p.sshRefuse)) out.push({ kind: "ssh_refuse", seconds: p.sshRefuseSeconds });
      if (this.draw(p.sshDrop)) {
        out.push({ kind: "ssh_drop", afterBytes: Math.round(this.between(p.sshDropBytes)) });
      }
      // One host event at most: an instance outbid is stopped, and one offline is gone.
      if (this.draw(p.outbid)) {
        out.push({
          kind: "host_event",
          event: "outbid",
          afterRunningSeconds: this.between(p.outbidAfterSeconds),
        });
      } else if (this.draw(p.offline)) {
        out.push({
          kind: "host_event",
          event: "offline",
          afterRunningSeconds: this.between(p.offlineAfterSeconds),
        });
      }
    }
    return out;
  }

  randomStaleRead(): boolean {
    return this.rng?.chance(this.profile?.staleRead ?? 0) ?? false;
  }
}
