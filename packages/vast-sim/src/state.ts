/**
 * The simulated Vast world: marketplace, instances, account keys, faults, clock and the SSH
 * servers behind the instances. HTTP routes and the admin API are thin layers over this.
 */
import { mkdir, rm } from "node:fs/promises";
import type { Logger } from "@vast-rental/core";
import type { CreateRequest } from "./create-request";
import { errors, VastHttpError } from "./errors";
import type { FaultBook, FaultSpec, InstanceFault } from "./faults";
import { placeAiToolkitDirs } from "./host-profile";
import { type CreateOrder, newInstance, type SimInstance } from "./instance";
import { renderInstance } from "./instance-view";
import { LateCreates } from "./late-creates";
import { instanceLedger } from "./ledger";
import * as lifecycle from "./lifecycle";
import { Marketplace } from "./marketplace";
import { RequestCounter } from "./request-counts";
import type { SimClock } from "./sim-clock";
import type { SshBackend, SshServerHandle } from "./ssh-bridge";

export interface AccountKey {
  id: number;
  user_id: number;
  public_key: string;
  created_at: string;
  deleted_at: string | null;
}

export interface StateOptions {
  seed: number;
  marketSize: number;
  delays: lifecycle.LifecycleDelays;
  dataDir: string;
  bandwidthUsdPerGb: number | null;
  /** GETs of a logs `result_url` that answer 404 before the text is ready. */
  logPendingPolls: number;
  userId: number;
  /** Simulated seconds every instance's training takes unless the admin API says otherwise. */
  trainingSeconds: number | null;
  /** Where instances find ai-toolkit's run.py stand-in (host-profile.ts). */
  aiToolkitDirs: readonly string[];
}

export type InstanceEvent = { type: "outbid" | "offline" | "online" | "error"; instance: SimInstance };

export type CreateOutcome =
  | {
      instance: SimInstance;
      /** Set when the create must answer an error even though the instance exists. */
      errorStatus: number | null;
    }
  /** A late create: the call answers an error, and the instance appears later. */
  | { instance: null; errorStatus: number };

function bidBelowMinimum(order: CreateOrder): boolean {
  const { price } = order.body;
  return price !== undefined && price !== null && price < order.offer.min_bid;
}

export class SimState {
  market!: Marketplace;
  instances = new Map<number, SimInstance>();
  accountKeys: AccountKey[] = [];
  logs = new Map<string, { instanceId: number; pending: number; text: string }>();
  /** Vast API calls served, per endpoint. */
  readonly requests = new RequestCounter();
  private lateCreates = new LateCreates();
  private settingUp = new Set<Promise<void>>();
  private servers = new Map<number, SshServerHandle>();
  private hostKeys = new Map<number, string>();
  private nextInstanceId = 0;
  private nextKeyId = 0;
  listeners: ((e: InstanceEvent) => void)[] = [];

  constructor(
    readonly options: StateOptions,
    readonly clock: SimClock,
    readonly faults: FaultBook,
    readonly ssh: SshBackend,
    readonly logger: Logger,
  ) {
    this.resetWorld();
  }

  private resetWorld() {
    this.market = new Marketplace({
      seed: this.options.seed,
      size: this.options.marketSize,
      nowMs: this.clock.now(),
    });
    this.instances = new Map();
    this.accountKeys = [];
    this.logs = new Map();
    this.nextInstanceId = 31_000_000 + (this.options.seed % 1000) * 1000;
    this.nextKeyId = 500_000;
  }

  async reset(): Promise<void> {
    await this.closeAll();
    await Promise.all(
      [...this.instances.values()].map((i) => rm(i.rootDir, { recursive: true, force: true })),
    );
    this.faults.clear();
    this.faults.resetCounts();
    this.lateCreates.clear();
    this.requests.reset();
    this.resetWorld();
  }

  snapshot = (inst: SimInstance) => renderInstance(inst, this.clock.now());

  /** Brings one instance up to the current simulated time. */
  refresh(inst: SimInstance): SimInstance {
    const before = inst.actual;
    if (lifecycle.catchUp(inst, this.clock.now(), this.options.delays, this.snapshot)) {
      this.logger.debug("vast-sim instance transition", {
        instanceId: inst.id,
        from: before,
        to: inst.actual,
      });
    }
    if (before !== inst.actual && (inst.actual === "created" || inst.actual === "exited")) {
      this.faults.note("fatal");
      this.emit({ type: "error", instance: inst });
    }
    this.hostEventDue(inst);
    return inst;
  }

  /**
   * A host event the random profile scheduled (outbid, offline) happens once the instance has run
   * long enough, stamped when it was due, like lifecycle transitions.
   */
  private hostEventDue(inst: SimInstance): void {
    const due = inst.faults.hostEvent;
    if (!due || inst.destroyedAtMs !== null || inst.actual !== "running" || inst.startedAtMs === null) return;
    const dueAtMs = inst.startedAtMs + due.afterRunningSeconds * 1000;
    if (dueAtMs > this.clock.now()) return;
    inst.faults.hostEvent = null;
    const atMs = Math.max(dueAtMs, inst.history[inst.history.length - 1]?.atMs ?? dueAtMs);
    this.faults.note(due.event);
    if (due.event === "outbid") {
      lifecycle.outbid(inst, atMs, this.snapshot);
      this.track(inst.id, this.closeSsh(inst));
      this.emit({ type: "outbid", instance: inst });
    } else {
      lifecycle.setOffline(inst, atMs, true, this.snapshot);
      this.emit({ type: "offline", instance: inst });
    }
  }

  refreshAll(): void {
    this.materialiseDue();
    for (const inst of this.instances.values()) this.refresh(inst);
  }

  private emit(e: InstanceEvent) {
    for (const l of this.listeners) l(e);
  }

  /** A live (not destroyed) instance, or null. */
  live(id: number): SimInstance | null {
    this.materialiseDue();
    const inst = this.instances.get(id);
    if (!inst || inst.destroyedAtMs !== null) return null;
    return this.refresh(inst);
  }

  liveOrThrow(id: number): SimInstance {
    const inst = this.live(id);
    if (!inst) throw errors.noSuchInstance(id);
    return inst;
  }

  /** The show view; a stale read returns the view from before the latest transition. */
  show(inst: SimInstance): Record<string, unknown> {
    const stale = inst.faults.staleReads > 0 || this.faults.randomStaleRead();
    if (stale && inst.previousView) {
      inst.faults.staleReads = Math.max(0, inst.faults.staleReads - 1);
      this.faults.note("stale_read");
      return inst.previousView;
    }
    return renderInstance(inst, this.clock.now());
  }

  sshFaults(inst: SimInstance) {
    const now = this.clock.now();
    const f = inst.faults;
    f.ssh.refuseConnections =
      inst.actual !== "running" || (f.sshRefuseUntilMs !== null && now < f.sshRefuseUntilMs);
    return f.ssh;
  }

  async create(askId: number, body: CreateRequest): Promise<CreateOutcome> {
    this.materialiseDue();
    const offer = this.market.get(askId);
    const available = offer !== undefined && !offer.rented && offer.rentable;
    if (offer && available && this.faults.takeOfferVanish(askId)) {
      this.market.take(askId);
      throw body.cancel_unavail ? errors.askGone(askId) : errors.noSuchAsk(askId);
    }
    if (!offer || (!available && !(offer.rented && this.faults.takeDoubleRent(askId)))) {
      throw body.cancel_unavail ? errors.askGone(askId) : errors.noSuchAsk(askId);
    }
    const late = this.faults.takeLateCreate(askId);
    const order: CreateOrder = {
      askId,
      offer: { ...offer },
      body,
      accountKeys: this.accountKeys.filter((k) => k.deleted_at === null).map((k) => k.public_key),
      faults: this.faults.takeForNewInstance(),
      hostProfile: this.faults.takeHostProfile(offer.machine_id),
    };
    const now = this.clock.now();
    if (late) {
      // The ask stays listed until the contract exists (see materialiseDue).
      this.lateCreates.add(now + late.delaySeconds * 1000, order);
      this.logger.info("vast-sim create accepted late", {
        offerId: askId,
        label: body.label ?? null,
        status: late.status,
        delaySeconds: late.delaySeconds,
      });
      return { instance: null, errorStatus: late.status };
    }
    this.market.take(askId);
    const inst = this.make(order, now);
    await this.setUp(inst);
    if (bidBelowMinimum(order)) {
      throw new VastHttpError(400, {
        success: false,
        error: "invalid_price",
        msg: `error 400/1823: Bid price ${body.price} is below the minimum bid ${offer.min_bid}; instance created stopped.`,
        new_contract: inst.id,
      });
    }
    return { instance: inst, errorStatus: this.faults.takeCreateErrorAfterCreate() };
  }

  /**
   * Carries out every late create (`late_create` fault) whose due time has passed, stamped at
   * that time, before anything reads the world. Folder and SSH set-up finish in the background;
   * the API awaits `ready()` before it answers.
   */
  materialiseDue(): void {
    for (const { dueAtMs, order } of this.lateCreates.takeDue(this.clock.now())) {
      // Vast had accepted the create: if someone rented the ask meanwhile, the late instance
      // shares the machine, as a double rent does.
      this.market.take(order.askId);
      const inst = this.make(order, dueAtMs);
      this.track(inst.id, this.setUp(inst));
    }
  }

  /** Resolves once every instance made so far has its folder and SSH server. */
  async ready(): Promise<void> {
    while (this.settingUp.size > 0) await Promise.all(this.settingUp);
  }

  private track(instanceId: number, work: Promise<void>): void {
    const done: Promise<void> = work
      .catch((err: unknown) =>
        this.logger.error("vast-sim instance set-up failed", { instanceId, error: String(err) }),
      )
      .finally(() => this.settingUp.delete(done));
    this.settingUp.add(done);
  }

  /**
   * Records a new instance created at `atMs`, synchronously so that a late one is in place
   * (with its stop, if it was created stopped) before any read catches its lifecycle up.
   */
  private make(order: CreateOrder, atMs: number): SimInstance {
    const id = this.nextInstanceId;
    this.nextInstanceId += 1 + (id % 3);
    const inst = newInstance(order, id, atMs, {
      provisioningSeconds: this.options.delays.provisioningSeconds,
      dataDir: this.options.dataDir,
      aiToolkitDirs: this.options.aiToolkitDirs,
    });
    for (const f of order.faults) this.applyInstanceFault(inst, f);
    this.logger.info("vast-sim instance created", {
      instanceId: id,
      offerId: order.askId,
      label: inst.label,
      faults: order.faults.map((f) => f.kind),
    });
    this.instances.set(id, inst);
    const tooLowBid = bidBelowMinimum(order);
    if (order.body.target_state === "stopped" || tooLowBid) {
      lifecycle.stop(inst, atMs, this.snapshot, tooLowBid ? "bid below min_bid" : "created stopped");
    }
    return inst;
  }

  /** The instance folder and SSH server, opened even when created stopped so the port is known. */
  private async setUp(inst: SimInstance): Promise<void> {
    await mkdir(inst.rootDir, { recursive: true });
    await this.ssh.prepareInstanceFolder(inst.rootDir, {
      aiToolkitDirs: placeAiToolkitDirs(inst.host.aiToolkitDirs).inFolder,
    });
    if (this.options.trainingSeconds !== null) {
      await this.ssh.setTrainingBehaviour(inst.rootDir, {
        durationSeconds: this.options.trainingSeconds,
        fail: false,
      });
    }
    await this.openSsh(inst);
    if (inst.intended === "stopped") await this.closeSsh(inst);
  }

  private async openSsh(inst: SimInstance): Promise<void> {
    let hostKey = this.hostKeys.get(inst.id);
    if (hostKey === undefined) {
      hostKey = this.ssh.generateHostKey();
      this.hostKeys.set(inst.id, hostKey);
    }
    const server = await this.ssh.start({
      instanceId: inst.id,
      rootDir: inst.rootDir,
      hostKey,
      authorizedKeys: () => [...inst.accountKeys, ...inst.attachedKeys.map((k) => k.public_key)],
      gpu: inst.host.gpu,
      hostEnv: inst.host.env,
      aiToolkitMounts: placeAiToolkitDirs(inst.host.aiToolkitDirs).mounts,
      ...(inst.sshPort ? { port: inst.sshPort } : {}),
      timeScale: this.clock.timeScale || 1,
      faults: () => this.sshFaults(inst),
      onBytesReceived: (bytes) => {
        inst.bytesReceived += bytes;
      },
      onDropped: () => this.faults.note("ssh_drop"),
      env: this.containerEnv(inst),
      logger: this.logger,
    });
    this.servers.set(inst.id, server);
    inst.sshPort = server.port;
    inst.hostKeyFingerprint = server.hostKeyFingerprint;
  }

  private containerEnv(inst: SimInstance): Record<string, string> {
    const userEnv = Object.fromEntries(Object.entries(inst.env).filter(([k]) => !k.startsWith("-")));
    return {
      ...userEnv,
      CONTAINER_ID: String(inst.id),
      CONTAINER_API_KEY: inst.apiKey,
      VAST_CONTAINERLABEL: `C.${inst.id}`,
      PUBLIC_IPADDR: "127.0.0.1",
      ...(inst.sshPort ? { VAST_TCP_PORT_22: String(inst.sshPort) } : {}),
    };
  }

  private async closeSsh(inst: SimInstance): Promise<void> {
    const server = this.servers.get(inst.id);
    this.servers.delete(inst.id);
    await server?.close();
  }

  applyInstanceFault(inst: SimInstance, f: InstanceFault): void {
    switch (f.kind) {
      case "stuck_loading":
        inst.faults.stuckLoading = true;
        if (inst.actual === "loading") inst.nextAtMs = null;
        this.faults.note("stuck_loading");
        break;
      case "fatal":
        inst.faults.fatal = { status: f.status, statusMsg: lifecycle.fatalMessage(f.status, f.statusMsg) };
        break;
      case "stale_reads":
        inst.faults.staleReads += f.times;
        break;
      case "ssh_refuse":
        if (inst.actual === "running") inst.faults.sshRefuseUntilMs = this.clock.now() + f.seconds * 1000;
        else inst.faults.sshRefuseSeconds = f.seconds;
        this.faults.note("ssh_refuse");
        break;
      case "ssh_drop":
        // Counted when the drop happens (the SSH server's onDropped).
        inst.faults.ssh.dropAfterBytes = f.afterBytes;
        break;
      case "host_event":
        inst.faults.hostEvent = { event: f.event, afterRunningSeconds: f.afterRunningSeconds };
        break;
    }
  }

  /** Applies a fault spec aimed at an existing instance (or immediate instance events). */
  async applyToInstance(spec: FaultSpec & { instanceId: number }): Promise<void> {
    const inst = this.liveOrThrow(spec.instanceId);
    const now = this.clock.now();
    if (spec.kind === "outbid") {
      lifecycle.outbid(inst, now, this.snapshot);
      this.faults.note("outbid");
      await this.closeSsh(inst);
      this.emit({ type: "outbid", instance: inst });
    } else if (spec.kind === "offline") {
      lifecycle.setOffline(inst, now, spec.offline, this.snapshot);
      if (spec.offline) this.faults.note("offline");
      this.emit({ type: spec.offline ? "offline" : "online", instance: inst });
    } else if (
      spec.kind === "stuck_loading" ||
      spec.kind === "fatal" ||
      spec.kind === "stale_reads" ||
      spec.kind === "ssh_refuse" ||
      spec.kind === "ssh_drop"
    ) {
      this.applyInstanceFault(inst, spec);
    }
  }

  async stop(inst: SimInstance): Promise<void> {
    lifecycle.stop(inst, this.clock.now(), this.snapshot);
    await this.closeSsh(inst);
  }

  /** Start re-opens the SSH server, on the same port when it is still free, else on a new one. */
  async start(inst: SimInstance): Promise<void> {
    const wasDown = !this.servers.has(inst.id);
    lifecycle.start(inst, this.clock.now(), this.options.delays, this.snapshot);
    if (wasDown && inst.intended === "running") await this.openSsh(inst);
  }

  /** Reboot (and recycle, which on Vast also re-pulls the image): back through loading to running. */
  async reboot(inst: SimInstance): Promise<void> {
    if (inst.actual !== "running" && inst.actual !== "offline") return;
    lifecycle.reboot(inst, this.clock.now(), this.options.delays, this.snapshot);
  }

  /** A destroy call: a `destroy_ignored` fault swallows it, though the caller still hears success. */
  async requestDestroy(inst: SimInstance): Promise<void> {
    if (this.faults.takeDestroyIgnored(inst.id)) {
      this.logger.info("vast-sim destroy ignored (fault)", { instanceId: inst.id });
      return;
    }
    await this.destroy(inst);
  }

  async destroy(inst: SimInstance): Promise<void> {
    lifecycle.destroy(inst, this.clock.now(), this.snapshot);
    this.logger.info("vast-sim instance destroyed", { instanceId: inst.id });
    await this.closeSsh(inst);
    await rm(inst.rootDir, { recursive: true, force: true });
    // Back on the market under a new ask, unless a double-rented twin still holds the machine.
    const held = [...this.instances.values()].some(
      (other) => other.destroyedAtMs === null && other.offer.machine_id === inst.offer.machine_id,
    );
    if (!held) this.market.relist(inst.offer);
  }

  addAccountKey(publicKey: string): AccountKey {
    const key: AccountKey = {
      id: this.nextKeyId++,
      user_id: this.options.userId,
      public_key: publicKey.trim(),
      created_at: new Date(this.clock.now()).toISOString(),
      deleted_at: null,
    };
    this.accountKeys.push(key);
    return key;
  }

  attachKey(inst: SimInstance, publicKey: string) {
    const key = { id: this.nextKeyId++, public_key: publicKey.trim() };
    inst.attachedKeys.push(key);
    return key;
  }

  ledgerOf(inst: SimInstance) {
    this.refresh(inst);
    return instanceLedger(inst, this.clock.now(), this.options.bandwidthUsdPerGb);
  }

  async closeAll(): Promise<void> {
    await this.ready();
    const servers = [...this.servers.values()];
    this.servers.clear();
    await Promise.all(servers.map((s) => s.close()));
  }

  async setTrainingBehaviour(
    inst: SimInstance,
    behaviour: {
      durationSeconds: number;
      fail: boolean;
      exitCode?: number;
      failMessage?: string;
      progressTicks?: number;
      holdAfterTicks?: number;
    },
  ): Promise<void> {
    await this.ssh.setTrainingBehaviour(inst.rootDir, behaviour);
  }

  async releaseTraining(inst: SimInstance): Promise<void> {
    await this.ssh.releaseTraining(inst.rootDir);
  }
}
