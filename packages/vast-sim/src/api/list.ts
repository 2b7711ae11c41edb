/**
 * `GET /api/v1/instances/`: each query value is JSON (then URL-encoded); a token may also come
 * bare, as the official CLI sends it. `limit` ≤ 25, `after_token` (or `next_token`) pages,
 * `select_filters` on non-computed columns such as `label` or `verification`; computed columns
 * (`dph_total`, `num_gpus`, ...) answer 400 "… is not a valid search key". `select_cols` (a list
 * of column names; `["*"]` or absent = every column) narrows each row to those columns.
 */
import type { Context, Hono } from "hono";
import { vastError } from "../errors";
import { renderInstance } from "../instance-view";
import type { OfferView } from "../offer-view";
import { matches } from "../query";
import { guard, type RouteDeps, type SimEnv } from "./http";

const FILTERABLE = new Set([
  "id",
  "label",
  "actual_status",
  "intended_status",
  "cur_state",
  "machine_id",
  "host_id",
  "gpu_name",
  "image_uuid",
  "verification",
]);
const MAX_LIMIT = 25;
const LIST_OPS = new Set(["eq", "neq", "gt", "gte", "lt", "lte", "in", "notin"]);

function jsonParam(c: Context, name: string): unknown {
  const raw = c.req.query(name);
  if (raw === undefined || raw === "") return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function invalid(msg: string) {
  return vastError(400, "invalid_args", msg);
}

function encodeToken(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString("base64url");
}

function decodeToken(token: unknown): number {
  if (token === undefined || token === null) return 0;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(String(token), "base64url").toString());
    const o = (parsed as { o?: unknown }).o;
    if (typeof o === "number" && Number.isInteger(o) && o >= 0) return o;
  } catch {
    // answered below
  }
  throw vastError(400, "invalid_token", "error 400/4102: invalid_token The pagination token is invalid.");
}

export function listRoutes(app: Hono<SimEnv>, deps: RouteDeps) {
  app.get("/api/v1/instances", guard(deps, "list", "required"), (c) => {
    const { state } = deps;
    state.refreshAll();
    const limitParam = jsonParam(c, "limit");
    const limit = Math.min(
      MAX_LIMIT,
      typeof limitParam === "number" && limitParam > 0 ? Math.floor(limitParam) : MAX_LIMIT,
    );
    const offset = decodeToken(jsonParam(c, "after_token") ?? jsonParam(c, "next_token"));
    const filters = jsonParam(c, "select_filters") ?? {};
    if (typeof filters !== "object" || filters === null || Array.isArray(filters))
      throw invalid("select_filters must be a JSON object");
    const orderBy = jsonParam(c, "order_by") ?? [{ col: "id", dir: "asc" }];
    if (!Array.isArray(orderBy)) throw invalid("order_by must be a list of {col, dir}");
    const selectCols = jsonParam(c, "select_cols");
    if (
      selectCols !== undefined &&
      (!Array.isArray(selectCols) || !selectCols.every((col) => typeof col === "string"))
    )
      throw invalid("select_cols must be a list of column names");
    const columns = selectCols === undefined || selectCols.includes("*") ? null : (selectCols as string[]);

    const all = [...state.instances.values()]
      .filter((i) => i.destroyedAtMs === null)
      .map((i) => renderInstance(i, deps.clock.now()));
    const conds = Object.entries(filters as Record<string, unknown>).flatMap(([field, spec]) => {
      if (!FILTERABLE.has(field)) throw invalid(`${field} is not a valid search key`);
      const ops =
        spec && typeof spec === "object" && !Array.isArray(spec) ? Object.entries(spec) : [["eq", spec]];
      return ops.map(([op, value]) => {
        if (!LIST_OPS.has(String(op))) throw invalid(`unknown operator ${String(op)} on ${field}`);
        return { field, op, value } as Parameters<typeof matches>[1];
      });
    });
    const found = all.filter((row) => conds.every((f) => matches(row as OfferView, f)));
    for (const { col, dir } of [...(orderBy as { col: string; dir?: string }[])].reverse()) {
      found.sort((a, b) => {
        const x = a[col] as number | string;
        const y = b[col] as number | string;
        const cmp = x === y ? 0 : x === null ? -1 : y === null ? 1 : x < y ? -1 : 1;
        return dir === "desc" ? -cmp : cmp;
      });
    }
    const page = found
      .slice(offset, offset + limit)
      .map((row) =>
        columns ? Object.fromEntries(columns.filter((k) => k in row).map((k) => [k, row[k]])) : row,
      );
    const more = offset + limit < found.length;
    const labelCounts: Record<string, number> = {};
    for (const row of all) {
      const label = (row.label as string | null) ?? "";
      labelCounts[label] = (labelCounts[label] ?? 0) + 1;
    }
    return c.json({
      success: true,
      instances: page,
      instances_found: found.length,
      total_instances: all.length,
      label_counts: labelCounts,
      next_token: more ? encodeToken(offset + limit) : null,
    });
  });
}
