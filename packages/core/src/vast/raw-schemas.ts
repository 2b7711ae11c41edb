/**
 * Zod schemas for Vast's raw JSON, written to accept anything: every field falls back to
 * null when it is missing, null, the wrong type or unparseable. Numbers may arrive as
 * (padded) numeric strings; strings are trimmed and an empty string counts as missing.
 */
import { z } from "zod";

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A finite number or numeric string → number; otherwise null. */
export const looseNumber = z
  .union([z.number(), z.string().trim().regex(NUMERIC).transform(Number)])
  .pipe(z.number())
  .nullable()
  .catch(null);

/** A safe integer (or integral numeric string) → number; otherwise null. */
export const looseInt = z
  .union([z.number(), z.string().trim().regex(NUMERIC).transform(Number)])
  .pipe(z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER))
  .nullable()
  .catch(null);

/** A non-empty trimmed string; otherwise null. */
export const looseString = z.string().trim().min(1).nullable().catch(null);

/** true/false, 1/0 or "true"/"false" (any case, padded); otherwise null. */
export const looseBoolean = z
  .union([
    z.boolean(),
    z.literal(1).transform(() => true),
    z.literal(0).transform(() => false),
    z
      .string()
      .trim()
      .toLowerCase()
      .pipe(z.enum(["true", "false"]))
      .transform((value) => value === "true"),
  ])
  .nullable()
  .catch(null);

/** `ports` as Docker reports it on running v1 rows: `{"22/tcp":[{"HostIp":..,"HostPort":"41022"}]}`. */
const HostPortSchema = z.looseObject({ HostPort: looseInt });
export const RawPortsSchema = z
  .record(z.string(), z.array(z.unknown()).catch([]))
  .nullable()
  .catch(null)
  .transform((ports) => {
    const first = ports?.["22/tcp"]?.[0];
    const parsed = HostPortSchema.safeParse(first);
    return { ssh: parsed.success ? parsed.data.HostPort : null };
  });

/** Nested price block of offers (`search{}`) and instances (`instance{}`). */
const RawPriceBlockSchema = z.looseObject({ totalHour: looseNumber }).nullable().catch(null);

export const RawInstanceSchema = z.looseObject({
  id: looseInt,
  machine_id: looseInt,
  host_id: looseInt,
  actual_status: looseString,
  intended_status: looseString,
  cur_state: looseString,
  status_msg: looseString,
  label: looseString,
  gpu_name: looseString,
  num_gpus: looseInt,
  dph_total: looseNumber,
  public_ipaddr: looseString,
  ports: RawPortsSchema,
  ssh_host: looseString,
  ssh_port: looseInt,
  country_code: looseString,
  geolocation: looseString,
  start_date: looseNumber,
});
export type RawInstance = z.output<typeof RawInstanceSchema>;

export const RawOfferSchema = z.looseObject({
  id: looseInt,
  ask_contract_id: looseInt,
  machine_id: looseInt,
  host_id: looseInt,
  gpu_name: looseString,
  num_gpus: looseInt,
  gpu_ram: looseNumber,
  gpu_total_ram: looseNumber,
  dph_total: looseNumber,
  dph_base: looseNumber,
  storage_cost: looseNumber,
  inet_down_cost: looseNumber,
  search: RawPriceBlockSchema,
  reliability: looseNumber,
  reliability2: looseNumber,
  country_code: looseString,
  geolocation: looseString,
  disk_space: looseNumber,
  inet_down: looseNumber,
  inet_up: looseNumber,
  cuda_max_good: looseNumber,
  verified: looseBoolean,
  verification: looseString,
  direct_port_count: looseInt,
});
export type RawOffer = z.output<typeof RawOfferSchema>;
