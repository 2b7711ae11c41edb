/**
 * `VastAIService`: the seed's public API over `VastAIClient` — search with aliases and
 * re-checked constraints, provisioning with a job label and our SSH key, status that says
 * "destroyed" when Vast has nothing, and the lifecycle calls. Configuration defaults come
 * from the environment (`VASTAI_API_KEY`, `VASTAI_BASE_URL`, `VASTAI_SSH_KEY_PATH`).
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { type Clock, systemClock } from "../clock";
import { type Logger, silentLogger } from "../observability";
import {
  type CallOptions,
  type DestroyOptions,
  type DestroyResult,
  type ListInstancesOptions,
  VastAIClient,
  type VastAIClientOptions,
} from "./client";
import { VastAIError } from "./errors";
import { formatInstanceLabel } from "./labels";
import type { SearchOffersRequest, VastInstance, VastOffer } from "./model";
import { selectOffers } from "./offer-filter";
import { queryFromResolved, resolveOfferRequest } from "./offer-query";

/** A CUDA + PyTorch image that ai-toolkit (FLUX LoRA training) runs on. */
export const DEFAULT_INSTANCE_IMAGE = "pytorch/pytorch:2.6.0-cuda12.4-cudnn9-devel";
export const DEFAULT_DISK_GB = 64;
/** Vast's runtype tokens for "SSH, direct when the host allows it, else via the proxy". */
export const SSH_RUNTYPE = "ssh_direc ssh_proxy";

export interface VastAIServiceOptions extends Partial<VastAIClientOptions> {
  apiKey?: string;
  baseUrl?: string;
  logger?: Logger;
  /** The public key (OpenSSH format) to authorize on every instance. */
  sshPublicKey?: string;
  /** Private key path; the public key is read from `<path>.pub`. */
  sshKeyPath?: string;
  /** A ready client (tests, the simulator); the client options are then ignored. */
  client?: VastAIClient;
  /** Environment to read defaults from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Attempts to attach the SSH key after create (a fresh instance may 404 for a moment). */
  attachKeyAttempts?: number;
  attachKeyRetryDelayMs?: number;
}

export const ProvisionInstanceRequestSchema = z.object({
  offerId: z.number().int().positive(),
  jobId: z.string().min(1),
  attempt: z.number().int().min(1).default(1),
  /** Overrides the `vast-rental:<jobId>:<attempt>` label. */
  label: z.string().trim().min(1).max(1024).optional(),
  image: z.string().trim().min(1).default(DEFAULT_INSTANCE_IMAGE),
  /** Vast's minimum disk is 8 GB. */
  diskGb: z.number().min(8).max(100_000).default(DEFAULT_DISK_GB),
  env: z.record(z.string(), z.string()).default({}),
  onstart: z.string().max(4000).optional(),
});
export type ProvisionInstanceRequest = z.input<typeof ProvisionInstanceRequestSchema>;

export interface ProvisionedInstance {
  instanceId: number;
  offerId: number;
  label: string;
}

const RETRY_ATTACH_CODES = new Set(["not_found", "server", "network", "timeout", "rate_limited"]);
const PUBLIC_KEY = /^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+/;

export class VastAIService {
  readonly client: VastAIClient;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly sshPublicKeyOption: string | undefined;
  private readonly sshKeyPath: string | undefined;
  private readonly attachKeyAttempts: number;
  private readonly attachKeyRetryDelayMs: number;
  private publicKey: Promise<string> | undefined;

  constructor(options: VastAIServiceOptions = {}) {
    const env = options.env ?? process.env;
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.sshPublicKeyOption = options.sshPublicKey;
    this.sshKeyPath = options.sshKeyPath ?? (env.VASTAI_SSH_KEY_PATH || undefined);
    this.attachKeyAttempts = Math.max(1, options.attachKeyAttempts ?? 3);
    this.attachKeyRetryDelayMs = options.attachKeyRetryDelayMs ?? 2000;
    if (options.client) {
      this.client = options.client;
    } else {
      const apiKey = options.apiKey ?? (env.VASTAI_API_KEY || undefined);
      if (!apiKey) {
        throw new VastAIError({
          code: "auth",
          message: "No Vast.ai API key: pass apiKey or set VASTAI_API_KEY",
        });
      }
      this.client = new VastAIClient({
        ...options,
        apiKey,
        baseUrl: options.baseUrl ?? (env.VASTAI_BASE_URL || undefined),
        logger: this.logger,
      });
    }
  }

  /** Matching offers, cheapest first. Bad input, unknown GPUs or regions fail before any call. */
  async searchOffers(request: SearchOffersRequest, options: CallOptions = {}): Promise<VastOffer[]> {
    const resolved = resolveOfferRequest(request);
    const offers = await this.client.searchOffers(queryFromResolved(resolved), options);
    const selected = selectOffers(offers, resolved);
    this.logger.debug("vast offers", { returned: offers.length, matching: selected.length });
    return selected;
  }

  /**
   * Rents an offer for a job attempt and authorizes our SSH key on it. Create is sent once;
   * on an ambiguous error, look the label up (`findInstanceByLabel`) before renting again.
   * If the key cannot be attached, the error carries `instanceId`: destroy that instance.
   */
  async provisionInstance(
    input: ProvisionInstanceRequest,
    options: CallOptions = {},
  ): Promise<ProvisionedInstance> {
    const parsed = ProvisionInstanceRequestSchema.safeParse(input);
    if (!parsed.success) {
      throw new VastAIError({
        code: "invalid_request",
        message: `Invalid provision request: ${z.prettifyError(parsed.error)}`,
      });
    }
    const request = parsed.data;
    const label = request.label ?? this.labelFor(request.jobId, request.attempt);
    // Resolve the key before renting: an instance we cannot reach is money for nothing.
    const publicKey = await this.sshPublicKey();
    const onstart = ["touch ~/.no_auto_tmux", request.onstart].filter(Boolean).join("\n");
    const { instanceId } = await this.client.createInstance(
      request.offerId,
      {
        client_id: "me",
        image: request.image,
        disk: request.diskGb,
        label,
        env: request.env,
        onstart,
        runtype: SSH_RUNTYPE,
        target_state: "running",
        cancel_unavail: true,
      },
      options,
    );
    this.logger.info("vast instance created", { instanceId, offerId: request.offerId, label });
    await this.attachKey(instanceId, publicKey, options);
    return { instanceId, offerId: request.offerId, label };
  }

  /** The instance carrying exactly this label, if any (after an ambiguous create). */
  async findInstanceByLabel(label: string, options: CallOptions = {}): Promise<VastInstance | null> {
    const wanted = label.trim();
    const matches = (await this.client.listInstances({ ...options, labelPrefix: wanted })).filter(
      (instance) => instance.label === wanted,
    );
    return matches.find((instance) => instance.state !== "destroyed") ?? matches[0] ?? null;
  }

  /** The normalized instance; `state: "destroyed"` when Vast has none. */
  async getInstanceStatus(instanceId: number, options: CallOptions = {}): Promise<VastInstance> {
    return (await this.client.showInstance(instanceId, options)) ?? destroyedInstance(instanceId);
  }

  startInstance(instanceId: number, options: CallOptions = {}): Promise<void> {
    return this.client.startInstance(instanceId, options);
  }

  stopInstance(instanceId: number, options: CallOptions = {}): Promise<void> {
    return this.client.stopInstance(instanceId, options);
  }

  /** Destroys the instance; one that is already gone counts as success. */
  async terminateInstance(instanceId: number, options: DestroyOptions = {}): Promise<DestroyResult> {
    const result = await this.client.destroyInstance(instanceId, options);
    this.logger.info("vast instance destroyed", { instanceId, alreadyGone: result.alreadyGone });
    return result;
  }

  listInstances(options: ListInstancesOptions = {}): Promise<VastInstance[]> {
    return this.client.listInstances(options);
  }

  getInstanceLogs(instanceId: number, tail = 1000, options: CallOptions = {}): Promise<string> {
    return this.client.requestLogs(instanceId, { ...options, tail });
  }

  private labelFor(jobId: string, attempt: number): string {
    try {
      return formatInstanceLabel({ jobId, attempt });
    } catch (error) {
      throw new VastAIError({
        code: "invalid_request",
        message: `Invalid job id for a label: ${jobId}`,
        cause: error,
      });
    }
  }

  private async attachKey(instanceId: number, publicKey: string, options: CallOptions): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.attachSshKey(instanceId, publicKey, options);
        return;
      } catch (error) {
        const code = error instanceof VastAIError ? error.code : "unknown";
        if (attempt < this.attachKeyAttempts && RETRY_ATTACH_CODES.has(code) && !options.signal?.aborted) {
          this.logger.warn("vast ssh key attach retry", { instanceId, attempt, code });
          await this.clock.sleep(this.attachKeyRetryDelayMs, options.signal).catch(() => {});
          continue;
        }
        throw new VastAIError({
          code: error instanceof VastAIError ? error.code : "unknown",
          status: error instanceof VastAIError ? error.status : null,
          message: `Instance ${instanceId} was created but its SSH key could not be attached: ${
            error instanceof Error ? error.message : "unknown error"
          }`,
          endpoint: error instanceof VastAIError ? error.endpoint : null,
          instanceId,
          cause: error,
        });
      }
    }
  }

  private sshPublicKey(): Promise<string> {
    this.publicKey ??= this.loadPublicKey();
    // A failed read should not poison later calls (the file may appear).
    this.publicKey.catch(() => {
      this.publicKey = undefined;
    });
    return this.publicKey;
  }

  private async loadPublicKey(): Promise<string> {
    let key = this.sshPublicKeyOption;
    let source = "sshPublicKey";
    if (!key && this.sshKeyPath) {
      const path = this.sshKeyPath.endsWith(".pub") ? this.sshKeyPath : `${this.sshKeyPath}.pub`;
      source = path;
      try {
        key = await readFile(path, "utf8");
      } catch (error) {
        throw new VastAIError({
          code: "invalid_request",
          message: `Cannot read the SSH public key at ${path}`,
          cause: error,
        });
      }
    }
    if (!key) {
      throw new VastAIError({
        code: "invalid_request",
        message: "No SSH public key: pass sshPublicKey or sshKeyPath, or set VASTAI_SSH_KEY_PATH",
      });
    }
    const trimmed = key.trim();
    if (!PUBLIC_KEY.test(trimmed)) {
      throw new VastAIError({ code: "invalid_request", message: `${source} is not an OpenSSH public key` });
    }
    return trimmed;
  }
}

/** What an instance Vast no longer has looks like: gone, nothing else known. */
export function destroyedInstance(instanceId: number): VastInstance {
  return {
    instanceId,
    state: "destroyed",
    rawStatus: null,
    intendedStatus: null,
    statusMessage: null,
    label: null,
    machineId: null,
    hostId: null,
    gpuName: null,
    numGpus: null,
    hourlyUsd: null,
    publicIp: null,
    sshHost: null,
    sshPort: null,
    sshVia: null,
    countryCode: null,
    startedAtMs: null,
  };
}
