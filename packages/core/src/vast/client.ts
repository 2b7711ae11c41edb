/**
 * `VastAIClient`: Vast.ai's REST API as typed calls returning normalized shapes. Knows the
 * endpoints, their quirks (the `instances` key that is an object, a list or null; paging via
 * `next_token`; "already gone" on destroy; logs fetched through a `result_url`) and nothing
 * about jobs. Transport concerns (auth, retries, limits, timeouts) live in `http.ts`.
 */
import { z } from "zod";
import { type Clock, systemClock } from "../clock";
import { type Logger, silentLogger } from "../observability";
import { DEFAULT_RATE_LIMITS, type VastEndpoint } from "./endpoints";
import { VastAIError } from "./errors";
import { contractIdOf, type FetchLike, VastHttp } from "./http";
import type { VastInstance, VastOffer, VastSshKey } from "./model";
import { normalizeInstance } from "./normalize-instance";
import { normalizeOffer } from "./normalize-offer";
import type { VastOfferQuery } from "./offer-query";
import { EndpointRateLimiter } from "./rate-limiter";
import { looseInt, looseString } from "./raw-schemas";
import { createRedactor } from "./redaction";
import { type RetryOptions, RetryPolicySchema } from "./retry";

export const DEFAULT_VAST_BASE_URL = "https://console.vast.ai";
/** Vast's v1 list caps `limit` at 25. */
export const MAX_LIST_PAGE_SIZE = 25;

export interface VastAIClientOptions {
  apiKey: string;
  /** Other secrets the client sends (a create's `env` holding HF_TOKEN), redacted like the key
   * from every error and log record: Vast may echo a request body back. */
  redactSecrets?: readonly string[];
  baseUrl?: string;
  /** Per attempt, including reading the body. Default 30 s. */
  timeoutMs?: number;
  retry?: RetryOptions;
  /** Minimum milliseconds between calls per endpoint; 0 disables limiting for that endpoint. */
  rateLimits?: Partial<Record<VastEndpoint, number>>;
  clock?: Clock;
  /** Jitter source in [0, 1); pass `seededRandom(n)` for determinism. */
  random?: () => number;
  logger?: Logger;
  fetch?: FetchLike;
  /** Polling of a logs `result_url` until it is ready. Defaults: every 1000 ms, 30 times. */
  logs?: { pollIntervalMs?: number; maxPolls?: number };
  /** Page size for the instance list (1..25). */
  listPageSize?: number;
  /** Upper bound on pages followed in one list call (a guard against a looping `next_token`). */
  maxListPages?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface DestroyOptions extends CallOptions {
  /** Awaited before each try of the DELETE leaves, retries included (see VastHttpRequest). Vast
   * stops billing when it handles one: after it left, before its answer arrived. */
  beforeSend?: () => Promise<void>;
}

export interface DestroyResult {
  /** Vast no longer had the instance: an earlier destroy (ours, most likely) got there first. */
  alreadyGone: boolean;
}

export interface ListInstancesOptions extends CallOptions {
  /** Only instances whose label starts with this (checked client-side). */
  labelPrefix?: string;
  /** Raw v1 `select_filters`, sent as given (only stored columns; computed ones give 400). */
  selectFilters?: Record<string, unknown>;
  /** Called after each page is fetched (how many calls a list cost). */
  onPage?: (page: number, rows: number) => void;
}

/** The create body Vast accepts (docs/vast-quirks.md#create); extra fields pass through. */
export type CreateInstanceBody = Record<string, unknown> & { image?: string; disk?: number; label?: string };

const PositiveId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const ObjectBody = z.looseObject({});
const SshKeyRecord = z.looseObject({
  id: looseInt,
  public_key: looseString,
  key: looseString,
  ssh_key: looseString,
});

export class VastAIClient {
  private readonly http: VastHttp;
  private readonly clock: Clock;
  private readonly pollIntervalMs: number;
  private readonly maxPolls: number;
  private readonly pageSize: number;
  private readonly maxListPages: number;

  constructor(options: VastAIClientOptions) {
    if (!options.apiKey) {
      throw new VastAIError({ code: "auth", message: "VastAIClient needs an API key" });
    }
    this.clock = options.clock ?? systemClock;
    this.pollIntervalMs = options.logs?.pollIntervalMs ?? 1000;
    this.maxPolls = Math.max(1, options.logs?.maxPolls ?? 30);
    this.pageSize = Math.min(MAX_LIST_PAGE_SIZE, Math.max(1, options.listPageSize ?? MAX_LIST_PAGE_SIZE));
    this.maxListPages = Math.max(1, options.maxListPages ?? 1000);
    this.http = new VastHttp({
      apiKey: options.apiKey,
      baseUrl: options.baseUrl ?? DEFAULT_VAST_BASE_URL,
      timeoutMs: options.timeoutMs ?? 30_000,
      retry: RetryPolicySchema.parse(options.retry ?? {}),
      limiter: new EndpointRateLimiter({ ...DEFAULT_RATE_LIMITS, ...options.rateLimits }, this.clock),
      clock: this.clock,
      random: options.random ?? Math.random,
      logger: options.logger ?? silentLogger,
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      redact: createRedactor(options.apiKey, options.redactSecrets),
    });
  }

  /** `POST /api/v0/bundles/` with a raw query (see `buildOfferQuery`); unusable rows are dropped. */
  async searchOffers(query: VastOfferQuery, options: CallOptions = {}): Promise<VastOffer[]> {
    const { body } = await this.http.request({
      endpoint: "search",
      method: "POST",
      path: "/api/v0/bundles/",
      body: query,
      mode: "idempotent",
      signal: options.signal,
    });
    const offers = asObject(body)?.offers;
    if (offers === null) return [];
    if (!Array.isArray(offers)) throw unexpected("POST /api/v0/bundles/", "no offers list");
    return offers.map(normalizeOffer).filter((offer) => offer !== null);
  }

  /**
   * `PUT /api/v0/asks/{offerId}/`. Sent exactly once: a timeout, network error or 5xx throws
   * an ambiguous error (reconcile by label before renting again). A refusal that still names
   * a `new_contract` throws with `instanceId` set: that instance exists and must be destroyed.
   */
  async createInstance(
    offerId: number,
    body: CreateInstanceBody,
    options: CallOptions = {},
  ): Promise<{ instanceId: number }> {
    const id = this.id(offerId, "offer id");
    const endpoint = `PUT /api/v0/asks/${id}/`;
    const response = await this.http.request({
      endpoint: "create",
      method: "PUT",
      path: `/api/v0/asks/${id}/`,
      body,
      mode: "create",
      signal: options.signal,
    });
    const instanceId = contractIdOf(response.body);
    if (instanceId === null) {
      // Vast said yes but not to what: something may be billing, so the caller must reconcile.
      throw new VastAIError({
        code: "unknown",
        message: `Vast ${endpoint}: success without a new_contract id`,
        status: response.status,
        endpoint,
        ambiguous: true,
      });
    }
    return { instanceId };
  }

  /** `GET /api/v0/instances/{id}/`; null when Vast has no such instance (404 or `instances: null`). */
  async showInstance(instanceId: number, options: CallOptions = {}): Promise<VastInstance | null> {
    const id = this.id(instanceId, "instance id");
    try {
      const { body } = await this.http.request({
        endpoint: "show",
        method: "GET",
        path: `/api/v0/instances/${id}/`,
        query: { owner: "me" },
        mode: "idempotent",
        signal: options.signal,
      });
      const record = asObject(body);
      // `instances: null` is Vast's "not found"; no key at all is not an answer we can trust.
      if (!record || !("instances" in record))
        throw unexpected(`GET /api/v0/instances/${id}/`, "no instances key");
      const instances = record.instances;
      // An object for one instance, but the SDK has seen a list here too.
      if (Array.isArray(instances)) {
        return instances.map(normalizeInstance).find((row) => row?.instanceId === id) ?? null;
      }
      return normalizeInstance(instances);
    } catch (error) {
      if (error instanceof VastAIError && error.code === "not_found") return null;
      throw error;
    }
  }

  /** Every instance on the account (`GET /api/v1/instances/`, following `next_token`). */
  async listInstances(options: ListInstancesOptions = {}): Promise<VastInstance[]> {
    const path = "/api/v1/instances/";
    const seenTokens = new Set<string>();
    const byId = new Map<number, VastInstance>();
    let token: string | null = null;
    for (let page = 1; ; page++) {
      // v1 expects every query value JSON-encoded (then URL-encoded).
      const query: Record<string, string> = { limit: JSON.stringify(this.pageSize) };
      if (token !== null) query.after_token = JSON.stringify(token);
      if (options.selectFilters) query.select_filters = JSON.stringify(options.selectFilters);
      const { body } = await this.http.request({
        endpoint: "list",
        method: "GET",
        path,
        query,
        mode: "idempotent",
        signal: options.signal,
      });
      const record = asObject(body);
      // A list that silently comes back empty is how orphans are born: insist on the key.
      if (!record || !("instances" in record)) throw unexpected(`GET ${path}`, "no instances key");
      const instances = record.instances;
      const rows = Array.isArray(instances) ? instances : instances ? [instances] : [];
      options.onPage?.(page, rows.length);
      for (const row of rows) {
        const instance = normalizeInstance(row);
        if (instance) byId.set(instance.instanceId, instance);
      }
      const next = typeof record.next_token === "string" ? record.next_token.trim() : "";
      if (!next || rows.length === 0) break;
      if (seenTokens.has(next)) throw unexpected(`GET ${path}`, "next_token repeated");
      if (page >= this.maxListPages) throw unexpected(`GET ${path}`, `more than ${this.maxListPages} pages`);
      seenTokens.add(next);
      token = next;
    }
    const all = [...byId.values()];
    const prefix = options.labelPrefix;
    return prefix === undefined ? all : all.filter((instance) => instance.label?.startsWith(prefix));
  }

  async startInstance(instanceId: number, options: CallOptions = {}): Promise<void> {
    await this.manage(instanceId, { state: "running" }, options);
  }

  async stopInstance(instanceId: number, options: CallOptions = {}): Promise<void> {
    await this.manage(instanceId, { state: "stopped" }, options);
  }

  async setLabel(instanceId: number, label: string, options: CallOptions = {}): Promise<void> {
    if (label.length > 1024) {
      throw new VastAIError({ code: "invalid_request", message: "Vast labels are at most 1024 characters" });
    }
    await this.manage(instanceId, { label }, options);
  }

  /** `DELETE /api/v0/instances/{id}/`. An instance that is already gone counts as destroyed. */
  async destroyInstance(instanceId: number, options: DestroyOptions = {}): Promise<DestroyResult> {
    const id = this.id(instanceId, "instance id");
    try {
      const { body } = await this.http.request({
        endpoint: "destroy",
        method: "DELETE",
        path: `/api/v0/instances/${id}/`,
        body: {},
        mode: "idempotent",
        signal: options.signal,
        beforeSend: options.beforeSend,
      });
      const record = asObject(body);
      return { alreadyGone: !!record && "instances" in record && record.instances === null };
    } catch (error) {
      if (error instanceof VastAIError && error.code === "not_found") return { alreadyGone: true };
      throw error;
    }
  }

  /** `POST /api/v0/instances/{id}/ssh/`: authorizes a public key on one instance. */
  async attachSshKey(instanceId: number, publicKey: string, options: CallOptions = {}): Promise<void> {
    const id = this.id(instanceId, "instance id");
    await this.http.request({
      endpoint: "instanceSsh",
      method: "POST",
      path: `/api/v0/instances/${id}/ssh/`,
      body: { ssh_key: publicKey.trim() },
      mode: "idempotent",
      signal: options.signal,
    });
  }

  /** `GET /api/v0/ssh/`. Accepts a bare list or `ssh_keys`/`keys` (even as a JSON string). */
  async listAccountSshKeys(options: CallOptions = {}): Promise<VastSshKey[]> {
    const { body } = await this.http.request({
      endpoint: "accountSsh",
      method: "GET",
      path: "/api/v0/ssh/",
      mode: "idempotent",
      signal: options.signal,
    });
    const record = asObject(body);
    let list: unknown = Array.isArray(body) ? body : (record?.ssh_keys ?? record?.keys ?? []);
    if (typeof list === "string") list = safeJson(list);
    return (Array.isArray(list) ? list : []).map(toSshKey).filter((key) => key !== null);
  }

  /** `POST /api/v0/ssh/`: registers a key on the account. Retried only on 429 (not idempotent). */
  async createAccountSshKey(publicKey: string, options: CallOptions = {}): Promise<VastSshKey> {
    const { body } = await this.http.request({
      endpoint: "accountSsh",
      method: "POST",
      path: "/api/v0/ssh/",
      body: { ssh_key: publicKey.trim() },
      mode: "once",
      signal: options.signal,
    });
    return toSshKey(asObject(body)?.key) ?? { id: null, publicKey: publicKey.trim() };
  }

  /**
   * Container logs: `PUT /api/v0/instances/request_logs/{id}/` returns a `result_url` that
   * becomes readable (200) a little later; it is polled a bounded number of times.
   */
  async requestLogs(instanceId: number, options: CallOptions & { tail?: number } = {}): Promise<string> {
    const id = this.id(instanceId, "instance id");
    const endpoint = `PUT /api/v0/instances/request_logs/${id}/`;
    const { body } = await this.http.request({
      endpoint: "logs",
      method: "PUT",
      path: `/api/v0/instances/request_logs/${id}/`,
      body: { tail: String(options.tail ?? 1000) },
      mode: "idempotent",
      signal: options.signal,
    });
    const resultUrl = looseString.parse(asObject(body)?.result_url);
    if (!resultUrl) throw unexpected(endpoint, "no result_url");
    for (let poll = 1; poll <= this.maxPolls; poll++) {
      const result = await this.http.request({
        endpoint: "logResult",
        method: "GET",
        path: resultUrl,
        mode: "idempotent",
        responseType: "text",
        // Not ready yet is a 403/404 from S3; keep polling instead of failing.
        acceptStatus: (status) => status === 403 || status === 404,
        signal: options.signal,
      });
      if (result.status >= 200 && result.status < 300)
        return typeof result.body === "string" ? result.body : "";
      if (poll < this.maxPolls) await this.clock.sleep(this.pollIntervalMs, options.signal);
    }
    throw new VastAIError({
      code: "timeout",
      message: `Vast ${endpoint}: logs not ready after ${this.maxPolls} polls`,
      endpoint,
      retryable: true,
    });
  }

  private async manage(
    instanceId: number,
    body: Record<string, unknown>,
    options: CallOptions,
  ): Promise<void> {
    const id = this.id(instanceId, "instance id");
    await this.http.request({
      endpoint: "manage",
      method: "PUT",
      path: `/api/v0/instances/${id}/`,
      body,
      mode: "idempotent",
      signal: options.signal,
    });
  }

  private id(value: number, what: string): number {
    const parsed = PositiveId.safeParse(value);
    if (!parsed.success) {
      throw new VastAIError({
        code: "invalid_request",
        message: `Invalid ${what}: ${JSON.stringify(value)}`,
      });
    }
    return parsed.data;
  }
}

function asObject(body: unknown): Record<string, unknown> | null {
  const parsed = ObjectBody.safeParse(body);
  return parsed.success ? parsed.data : null;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function toSshKey(raw: unknown): VastSshKey | null {
  const parsed = SshKeyRecord.safeParse(raw);
  if (!parsed.success) return null;
  const publicKey = parsed.data.public_key ?? parsed.data.key ?? parsed.data.ssh_key;
  return publicKey ? { id: parsed.data.id, publicKey } : null;
}

function unexpected(endpoint: string, what: string): VastAIError {
  return new VastAIError({
    code: "unknown",
    message: `Vast ${endpoint}: unexpected response (${what})`,
    endpoint,
  });
}
