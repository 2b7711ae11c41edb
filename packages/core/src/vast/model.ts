/**
 * The one clean shape of Vast.ai that the rest of the system sees. Vast's raw JSON is
 * normalized into these at the edge (see `normalize-*.ts`); nothing past the client reads
 * a raw Vast field. Types are derived from the schemas.
 */
import { z } from "zod";

/** Lifecycle of a rented instance, collapsed from Vast's `actual_status`/`cur_state`/`status_msg`. */
export const InstanceStateSchema = z.enum([
  "provisioning",
  "loading",
  "running",
  "stopped",
  "exited",
  "failed",
  "offline",
  "unknown",
  "destroyed",
]);
export type InstanceState = z.infer<typeof InstanceStateSchema>;

export const VastInstanceSchema = z.object({
  instanceId: z.number().int(),
  state: InstanceStateSchema,
  /** `actual_status` as Vast sent it (trimmed), for diagnostics. */
  rawStatus: z.string().nullable(),
  /** `intended_status`: what the renter asked for (running | stopped | frozen). */
  intendedStatus: z.string().nullable(),
  /** `status_msg`, trimmed; empty → null. */
  statusMessage: z.string().nullable(),
  /** Trimmed label; null when unset. */
  label: z.string().nullable(),
  machineId: z.number().int().nullable(),
  hostId: z.number().int().nullable(),
  gpuName: z.string().nullable(),
  numGpus: z.number().int().nullable(),
  /** `dph_total`: the full hourly price including storage. */
  hourlyUsd: z.number().nullable(),
  publicIp: z.string().nullable(),
  /** SSH endpoint: the direct mapping when present, else Vast's proxy. */
  sshHost: z.string().nullable(),
  sshPort: z.number().int().nullable(),
  sshVia: z.enum(["direct", "proxy"]).nullable(),
  /** ISO-3166 alpha-2, or null when unknown. */
  countryCode: z.string().nullable(),
  /** `start_date` in epoch milliseconds. */
  startedAtMs: z.number().nullable(),
});
export type VastInstance = z.infer<typeof VastInstanceSchema>;

export const VastOfferSchema = z.object({
  /** The ask id to rent with `PUT /asks/{id}/`; single use. */
  id: z.number().int(),
  machineId: z.number().int().nullable(),
  hostId: z.number().int().nullable(),
  gpuName: z.string(),
  numGpus: z.number().int(),
  /** VRAM per GPU in GB: `round(gpu_ram / 1024)`. */
  gpuRamGb: z.number(),
  /** `dph_total`: GPU plus storage for the searched disk size. Ranking and price caps use it. */
  hourlyUsd: z.number(),
  /** `dph_base`: the GPU part, billed only while the instance is running; null when Vast omits it. */
  gpuHourlyUsd: z.number().nullable(),
  /** `storage_cost` in $/GB/month: the disk, billed from create to destroy (also while stopped). */
  storageUsdPerGbMonth: z.number().nullable(),
  /** `inet_down_cost` in $/GB: bytes pushed into the instance. */
  inetDownUsdPerGb: z.number().nullable(),
  /** `reliability2`, else `reliability`; 0..1. */
  reliability: z.number(),
  countryCode: z.string().nullable(),
  geolocation: z.string().nullable(),
  diskGb: z.number(),
  inetDownMbps: z.number(),
  inetUpMbps: z.number(),
  cudaMaxGood: z.number().nullable(),
  verified: z.boolean(),
  directPortCount: z.number().int(),
});
export type VastOffer = z.infer<typeof VastOfferSchema>;

/** What a caller may ask of the marketplace. Validated before any network call. */
export const SearchOffersRequestSchema = z.object({
  /** A GPU model or alias: `4090`, `RTX_4090`, `rtx 4090`, `A100` (every A100 variant), ... */
  gpuType: z.string().trim().min(1).max(64),
  /** A region group (`US`, `EU`, `NA`, `ASIA`, ...) or an ISO-3166 alpha-2 code; omitted = anywhere. */
  region: z.string().trim().min(2).max(16).optional(),
  maxHourlyUsd: z.number().positive().max(1000),
  numGpus: z.number().int().min(1).max(16).default(1),
  minVramGb: z.number().positive().max(1024).optional(),
  minReliability: z.number().min(0).max(1).optional(),
  minDiskGb: z.number().positive().max(100_000).optional(),
  minInetDownMbps: z.number().nonnegative().optional(),
  minCudaVersion: z.number().positive().max(99).optional(),
  verifiedOnly: z.boolean().default(true),
  /** Machines never to rent (host reputation). */
  excludeMachineIds: z.array(z.number().int()).default([]),
  limit: z.number().int().min(1).max(1000).default(64),
});
export type SearchOffersRequest = z.input<typeof SearchOffersRequestSchema>;
export type SearchOffersQuery = z.output<typeof SearchOffersRequestSchema>;

/** Error categories every Vast failure is mapped to. */
export const VastErrorCodeSchema = z.enum([
  "auth",
  "not_found",
  "offer_unavailable",
  "rate_limited",
  "invalid_request",
  "insufficient_funds",
  "server",
  "network",
  "timeout",
  "unknown",
]);
export type VastErrorCode = z.infer<typeof VastErrorCodeSchema>;

/** An SSH public key registered on the Vast account. */
export const VastSshKeySchema = z.object({
  id: z.number().int().nullable(),
  publicKey: z.string(),
});
export type VastSshKey = z.infer<typeof VastSshKeySchema>;
