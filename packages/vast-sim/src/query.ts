/**
 * Vast's offer query language: `{"<field>": {"<op>": value}, "order": [["field","asc|desc"]],
 * "type": "on-demand"|"ondemand"|"bid"|"reserved", "limit": N, "allocated_storage": GiB}`.
 * Operators `eq neq gt gte lt lte in notin`. Unless the query names them (or sets
 * `no_default: true`), the defaults `verified eq true`, `external eq false`, `rentable eq true`
 * and `rented eq false` apply. A field given as `"any"` or `{}` drops its default. `_` in
 * gpu_name values is read as a space; `geolocation` filters match the 2-letter country code.
 * Values may arrive as strings: the official CLI sends numbers as typed (`num_gpus=1` becomes
 * `{"eq": "1"}`), so numeric strings compare as numbers; `driver_version` given as a number
 * (the CLI's 535086005 for 535.86.05) compares with the numeric driver version; `true`/`false`
 * match 0/1 flags such as `has_avx`.
 */
import { errors } from "./errors";
import type { SimOffer } from "./marketplace";
import { type OfferView, renderOffer } from "./offer-view";

const OPS = ["eq", "neq", "gt", "gte", "lt", "lte", "in", "notin"] as const;
type Op = (typeof OPS)[number];
type Scalar = string | number | boolean | null;

export interface Filter {
  field: string;
  op: Op;
  value: Scalar | Scalar[];
}

export interface ParsedQuery {
  filters: Filter[];
  order: [string, "asc" | "desc"][];
  limit: number | null;
  allocatedStorageGb: number;
  isBid: boolean;
}

const CONTROL_KEYS = new Set([
  "order",
  "type",
  "limit",
  "allocated_storage",
  "no_default",
  "disable_bundling",
]);
/** Keys some clients send that Vast does not filter on server-side (stripped, as the CLI does). */
const IGNORED_KEYS = new Set(["georegion", "chunked", "extra_ids", "show_incompatible"]);
const DEFAULTS: Filter[] = [
  { field: "verified", op: "eq", value: true },
  { field: "external", op: "eq", value: false },
  { field: "rentable", op: "eq", value: true },
  { field: "rented", op: "eq", value: false },
];
/** OpenAPI's default; the CLI always sends its own 5.0. */
export const DEFAULT_ALLOCATED_STORAGE_GB = 8;

/** Fields a query may filter on: every offer field plus Vast's aliases. */
const ALIASES: Record<string, string> = {
  dph: "dph_total",
  cuda_vers: "cuda_max_good",
  dlperf_usd: "dlperf_per_dphtotal",
  flops_usd: "flops_per_dphtotal",
};

function isScalar(v: unknown): v is Scalar {
  return v === null || ["string", "number", "boolean"].includes(typeof v);
}

function normaliseValue(field: string, value: Scalar): Scalar {
  if (field === "gpu_name" && typeof value === "string") return value.replaceAll("_", " ");
  return value;
}

export function parseQuery(body: Record<string, unknown>, knownFields: ReadonlySet<string>): ParsedQuery {
  const filters: Filter[] = [];
  const mentioned = new Set<string>();
  for (const [rawKey, spec] of Object.entries(body)) {
    if (CONTROL_KEYS.has(rawKey) || IGNORED_KEYS.has(rawKey)) continue;
    const field = ALIASES[rawKey] ?? rawKey;
    if (!knownFields.has(field)) throw errors.invalidArgs(`${rawKey} is not a valid search key`);
    mentioned.add(field);
    if (spec === "any" || spec === "*" || spec === null) continue;
    if (isScalar(spec)) {
      filters.push({ field, op: "eq", value: normaliseValue(field, spec) });
      continue;
    }
    if (typeof spec !== "object" || Array.isArray(spec)) throw errors.invalidArgs(`bad filter for ${rawKey}`);
    for (const [op, value] of Object.entries(spec as Record<string, unknown>)) {
      if (!(OPS as readonly string[]).includes(op))
        throw errors.invalidArgs(`unknown operator ${op} on ${rawKey}`);
      if (op === "in" || op === "notin") {
        if (!Array.isArray(value) || !value.every(isScalar)) {
          throw errors.invalidArgs(`${op} on ${rawKey} needs a list`);
        }
        filters.push({ field, op: op as Op, value: value.map((v) => normaliseValue(field, v)) });
      } else {
        if (!isScalar(value)) throw errors.invalidArgs(`${op} on ${rawKey} needs a scalar`);
        if (value === "any") continue;
        filters.push({ field, op: op as Op, value: normaliseValue(field, value) });
      }
    }
  }
  if (body.no_default !== true) {
    for (const d of DEFAULTS) if (!mentioned.has(d.field)) filters.push(d);
  }
  return {
    filters,
    order: parseOrder(body.order),
    limit: parseLimit(body.limit),
    allocatedStorageGb: parseStorage(body.allocated_storage),
    isBid: parseType(body.type),
  };
}

function parseOrder(order: unknown): [string, "asc" | "desc"][] {
  if (order === undefined || order === null) return [["score", "desc"]];
  if (!Array.isArray(order)) throw errors.invalidArgs("order must be a list of [field, direction]");
  return order.map((entry) => {
    const [field, dir = "asc"] = Array.isArray(entry) ? entry : [entry];
    if (typeof field !== "string" || (dir !== "asc" && dir !== "desc")) {
      throw errors.invalidArgs(`bad order entry ${JSON.stringify(entry)}`);
    }
    return [ALIASES[field] ?? field, dir] as [string, "asc" | "desc"];
  });
}

function parseLimit(limit: unknown): number | null {
  if (limit === undefined || limit === null) return null;
  const n = typeof limit === "string" ? Number(limit) : limit;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1)
    throw errors.invalidArgs("limit must be a positive integer");
  return n;
}

function parseStorage(v: unknown): number {
  if (v === undefined || v === null) return DEFAULT_ALLOCATED_STORAGE_GB;
  const n = typeof v === "string" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0)
    throw errors.invalidArgs("allocated_storage must be a number");
  return n;
}

function parseType(v: unknown): boolean {
  if (v === undefined || v === null || v === "on-demand" || v === "ondemand" || v === "reserved")
    return false;
  if (v === "bid" || v === "interruptible") return true;
  throw errors.invalidArgs(`type must be one of on-demand, ondemand, bid, reserved`);
}

function fieldValue(offer: OfferView, f: Filter): unknown {
  // Geolocation filters take 2-letter codes, compared with the country the host is in.
  if (f.field === "geolocation") return offer.country_code;
  // The CLI turns `driver_version >= 535.86.05` into the number 535086005: compare it with the
  // numeric form Vast keeps beside the dotted string.
  const numeric = Array.isArray(f.value)
    ? f.value.some((v) => typeof v === "number")
    : typeof f.value === "number";
  if (f.field === "driver_version" && numeric && typeof offer.driver_vers === "number")
    return offer.driver_vers;
  return offer[f.field];
}

function compare(a: unknown, b: Scalar): number | null {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "number" && typeof b === "string" && b.trim() !== "" && !Number.isNaN(Number(b)))
    return a - Number(b);
  return null;
}

function eq(a: unknown, b: Scalar): boolean {
  if (typeof a === "string" && typeof b === "string") return a.toLowerCase() === b.toLowerCase();
  if (typeof a === "boolean" && typeof b === "number") return a === (b !== 0);
  // Flags Vast keeps as 0/1 (`has_avx`) are queried with true/false.
  if (typeof a === "number" && typeof b === "boolean") return (a !== 0) === b;
  return compare(a, b) === 0 || a === b;
}

export function matches(offer: OfferView, f: Filter): boolean {
  const v = fieldValue(offer, f);
  switch (f.op) {
    case "eq":
      return eq(v, f.value as Scalar);
    case "neq":
      return !eq(v, f.value as Scalar);
    case "in":
      return (f.value as Scalar[]).some((x) => eq(v, x));
    case "notin":
      return !(f.value as Scalar[]).some((x) => eq(v, x));
    default: {
      const c = compare(v, f.value as Scalar);
      if (c === null) return false;
      return f.op === "gt" ? c > 0 : f.op === "gte" ? c >= 0 : f.op === "lt" ? c < 0 : c <= 0;
    }
  }
}

/** Runs a query over the marketplace: render with the query's price context, filter, order, limit. */
export function searchOffers(offers: readonly SimOffer[], body: Record<string, unknown>): OfferView[] {
  const sample = offers[0];
  const known = new Set(
    sample ? Object.keys(renderOffer(sample, { allocatedStorageGb: 0, isBid: false })) : [],
  );
  const q = parseQuery(body, known);
  const ctx = { allocatedStorageGb: q.allocatedStorageGb, isBid: q.isBid };
  const found = offers
    .map((o) => renderOffer(o, ctx))
    .filter((o) => o.disk_space >= q.allocatedStorageGb && q.filters.every((f) => matches(o, f)));
  found.sort((a, b) => {
    for (const [field, dir] of q.order) {
      const c = compare(a[field], (b[field] ?? null) as Scalar) ?? 0;
      if (c !== 0) return dir === "asc" ? c : -c;
    }
    return a.id - b.id;
  });
  return q.limit === null ? found : found.slice(0, q.limit);
}
