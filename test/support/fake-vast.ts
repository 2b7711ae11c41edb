/**
 * A scriptable in-memory `VastPort` for unit tests of the orchestration logic (the integration
 * tests use the simulator instead). It records every call so tests can assert ordering.
 */
import type { HostPreflight, SshProbe, VastPort } from "../../packages/core/src/jobs/ports";
import type { PreflightOutcome, PreflightRequirements } from "../../packages/core/src/preflight";
import type { SshTarget } from "../../packages/core/src/ssh";
import { VastAIError } from "../../packages/core/src/vast/errors";
import type { VastInstance, VastOffer } from "../../packages/core/src/vast/model";

export function offer(id: number, overrides: Partial<VastOffer> = {}): VastOffer {
  return {
    id,
    machineId: id * 10,
    hostId: id * 100,
    gpuName: "RTX 4090",
    numGpus: 1,
    gpuRamGb: 24,
    hourlyUsd: 0.3 + id / 100,
    gpuHourlyUsd: 0.29 + id / 100,
    storageUsdPerGbMonth: 0.2,
    inetDownUsdPerGb: 0.01,
    reliability: 0.99,
    countryCode: "US",
    geolocation: "Texas, US",
    diskGb: 200,
    inetDownMbps: 500,
    inetUpMbps: 500,
    cudaMaxGood: 12.4,
    verified: true,
    directPortCount: 10,
    ...overrides,
  };
}

export function instance(instanceId: number, overrides: Partial<VastInstance> = {}): VastInstance {
  return {
    instanceId,
    state: "loading",
    rawStatus: "loading",
    intendedStatus: "running",
    statusMessage: null,
    label: null,
    machineId: null,
    hostId: null,
    gpuName: "RTX 4090",
    numGpus: 1,
    hourlyUsd: 0.4,
    publicIp: "127.0.0.1",
    sshHost: null,
    sshPort: null,
    sshVia: null,
    countryCode: "US",
    startedAtMs: null,
    ...overrides,
  };
}

type CreateBehaviour =
  | "ok"
  /** Rents, then cannot attach the SSH key: the error names the instance, which exists. */
  | "key_attach_failed"
  | "offer_unavailable"
  | "ambiguous_rented"
  | "ambiguous_not_rented"
  | "rate_limited";

export class FakeVast implements VastPort {
  offers: VastOffer[] = [offer(1), offer(2), offer(3)];
  instances = new Map<number, VastInstance>();
  calls: { op: string; arg: unknown }[] = [];
  /** Behaviour of the next create calls, consumed in order; "ok" after. */
  createScript: CreateBehaviour[] = [];
  logs = "line 1\nline 2\n";
  /** Runs at the start of each create call (e.g. to assert the attempt was recorded first). */
  beforeCreate: ((label: string) => Promise<void>) | null = null;
  private nextId = 1000;

  async searchOffers(request: unknown): Promise<VastOffer[]> {
    this.calls.push({ op: "search", arg: request });
    return [...this.offers];
  }

  async provisionInstance(input: {
    offerId: number;
    jobId: string;
    attempt: number;
    label: string;
  }): Promise<{ instanceId: number }> {
    this.calls.push({ op: "create", arg: input });
    await this.beforeCreate?.(input.label);
    const behaviour = this.createScript.shift() ?? "ok";
    if (behaviour === "offer_unavailable") {
      throw new VastAIError({ code: "offer_unavailable", message: "no_such_ask", status: 404 });
    }
    if (behaviour === "rate_limited") {
      throw new VastAIError({ code: "rate_limited", message: "too frequent", status: 429, retryable: true });
    }
    const made = behaviour !== "ambiguous_not_rented" ? this.rent(input.offerId, input.label) : null;
    if (behaviour === "key_attach_failed") {
      throw new VastAIError({
        code: "server",
        message: `Instance ${made} was created but its SSH key could not be attached: HTTP 500`,
        status: 500,
        instanceId: made,
      });
    }
    if (behaviour.startsWith("ambiguous")) {
      throw new VastAIError({ code: "server", message: "HTTP 500", status: 500, ambiguous: true });
    }
    return { instanceId: made as number };
  }

  rent(offerId: number, label: string): number {
    const id = this.nextId++;
    const source = this.offers.find((o) => o.id === offerId);
    this.instances.set(id, instance(id, { label, machineId: source?.machineId ?? null }));
    return id;
  }

  async getInstanceStatus(instanceId: number): Promise<VastInstance> {
    this.calls.push({ op: "show", arg: instanceId });
    return this.instances.get(instanceId) ?? instance(instanceId, { state: "destroyed" });
  }

  async findInstanceByLabel(label: string): Promise<VastInstance | null> {
    this.calls.push({ op: "findByLabel", arg: label });
    return [...this.instances.values()].find((i) => i.label === label) ?? null;
  }

  async listInstances(options?: { onPage?: () => void }): Promise<VastInstance[]> {
    this.calls.push({ op: "list", arg: null });
    const all = [...this.instances.values()];
    for (let page = 0; page < Math.max(1, Math.ceil(all.length / 25)); page++) options?.onPage?.();
    return all;
  }

  async terminateInstance(instanceId: number): Promise<{ alreadyGone: boolean }> {
    this.calls.push({ op: "destroy", arg: instanceId });
    const alreadyGone = !this.instances.has(instanceId);
    this.instances.delete(instanceId);
    return { alreadyGone };
  }

  async stopInstance(instanceId: number): Promise<void> {
    this.calls.push({ op: "stop", arg: instanceId });
    this.setState(instanceId, { state: "stopped" });
  }

  async startInstance(instanceId: number): Promise<void> {
    this.calls.push({ op: "start", arg: instanceId });
    this.setState(instanceId, { state: "running" });
  }

  async getInstanceLogs(instanceId: number): Promise<string> {
    this.calls.push({ op: "logs", arg: instanceId });
    return this.logs;
  }

  async authorizeSshKey(instanceId: number): Promise<void> {
    this.calls.push({ op: "authorize", arg: instanceId });
  }

  setState(instanceId: number, patch: Partial<VastInstance>): void {
    const current = this.instances.get(instanceId);
    if (current) this.instances.set(instanceId, { ...current, ...patch });
  }

  count(op: string): number {
    return this.calls.filter((c) => c.op === op).length;
  }
}

/** A probe that succeeds with a fixed fingerprint, or fails while `failing` is set. */
export function fakeProbe(fingerprint = "SHA256:fake"): SshProbe & { failing: boolean; calls: number } {
  const probe = Object.assign(
    async () => {
      probe.calls++;
      if (probe.failing) throw new Error("connect ECONNREFUSED");
      return { hostKeyFingerprint: fingerprint };
    },
    { failing: false, calls: 0 },
  );
  return probe;
}

/** What a healthy host answers to the pre-flight check. */
export const PASSED_PREFLIGHT: PreflightOutcome = {
  passed: true,
  host: {
    gpus: [{ index: 0, name: "NVIDIA GeForce RTX 4090", memoryTotalMib: 24564, memoryUsedMib: 1 }],
    driverVersion: "580.95.05",
    cudaVersion: "13.0",
    freeDiskBytes: 60e9,
    torch: "torch 2.13.0+cu130 cuda True devices 1",
    aiToolkit: true,
  },
};

/**
 * A pre-flight check answering `outcome` (a healthy host by default), or throwing while `failing`
 * is set (the host cannot be reached); every call is recorded with its target and requirements.
 */
export function fakePreflight(): HostPreflight & {
  outcome: PreflightOutcome;
  failing: boolean;
  calls: { target: SshTarget; requirements: PreflightRequirements }[];
} {
  const check = Object.assign(
    async (target: SshTarget, requirements: PreflightRequirements) => {
      check.calls.push({ target, requirements });
      if (check.failing) throw new Error("connect ECONNRESET");
      return check.outcome;
    },
    {
      outcome: PASSED_PREFLIGHT,
      failing: false,
      calls: [] as { target: SshTarget; requirements: PreflightRequirements }[],
    },
  );
  return check;
}
