/**
 * What every Vast route shares: the Hono environment, request counting, authentication
 * (`Authorization: Bearer` or `api_key=`), rate limits, endpoint faults, and turning errors
 * into Vast's bodies.
 */
import type { Context, MiddlewareHandler } from "hono";
import { ZodError } from "zod";
import type { Endpoint } from "../endpoints";
import { errors, VastHttpError } from "../errors";
import type { FaultBook } from "../faults";
import type { RateLimiter } from "../rate-limits";
import type { SimClock } from "../sim-clock";
import type { SimState } from "../state";

/** Who is calling: the account, or an instance's own `CONTAINER_API_KEY` (start/stop/destroy of that instance only), or nobody. */
export type Identity = { kind: "account" } | { kind: "instance"; instanceId: number } | { kind: "anonymous" };

export type SimEnv = { Variables: { identity: Identity } };

export interface RouteDeps {
  state: SimState;
  apiKey: string;
  faults: FaultBook;
  rateLimiter: RateLimiter;
  clock: SimClock;
  /** The simulator's own base URL, for `result_url`s. */
  baseUrl: () => string;
}

export function presentedKey(c: Context): string | null {
  const auth = c.req.header("authorization");
  if (auth) {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1]!.trim();
  }
  return c.req.query("api_key") ?? null;
}

export function identify(deps: RouteDeps, key: string | null): Identity | null {
  if (key === null) return { kind: "anonymous" };
  if (key === deps.apiKey) return { kind: "account" };
  for (const inst of deps.state.instances.values()) {
    if (inst.apiKey === key && inst.destroyedAtMs === null) return { kind: "instance", instanceId: inst.id };
  }
  return null;
}

const GATEWAY_PAGES: Record<number, string> = {
  502: "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
  503: "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
  504: "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
};

/** A server-side failure as Vast's edge sends it: nginx's HTML page for 502/503/504, else JSON. */
export function serverFault(c: Context, status: number): Response {
  const page = GATEWAY_PAGES[status];
  if (page) return c.html(page, status as 502);
  return c.json(errors.serverError().body, status as 500);
}

function rateLimited(c: Context, threshold: string, style: "text" | "detail" | "json") {
  const text = `API requests too frequent: endpoint threshold=${threshold}`;
  if (style === "detail") return c.json({ detail: text }, 429);
  if (style === "json") return c.json({ success: false, error: "rate_limit_exceeded", msg: text }, 429);
  return c.text(text, 429);
}

/**
 * Gate for one Vast endpoint. `auth`: "required" (account key), "optional" (search works
 * without a key, but a wrong key is still refused), "instance" (account or that instance's key).
 */
export function guard(
  deps: RouteDeps,
  endpoint: Endpoint,
  auth: "required" | "optional" | "instance",
): MiddlewareHandler<SimEnv> {
  return async (c, next) => {
    deps.state.requests.count(endpoint);
    const key = presentedKey(c);
    const identity = identify(deps, key);
    if (identity === null) throw errors.authError();
    if (identity.kind === "anonymous" && auth !== "optional") throw errors.authError();
    if (identity.kind === "instance") {
      const id = Number(c.req.param("id"));
      if (auth !== "instance" || identity.instanceId !== id) throw errors.authError();
    }
    c.set("identity", identity);
    const who = `${key ?? "-"}|${c.req.header("x-forwarded-for") ?? "local"}`;
    const threshold = deps.rateLimiter.check(endpoint, who, deps.clock.realNow());
    if (threshold !== null) return rateLimited(c, threshold, deps.rateLimiter.style);
    for (const fault of deps.faults.forCall(endpoint)) {
      if (fault.kind === "latency") await deps.clock.realSleep(fault.ms);
      else if (fault.kind === "rate_limit") return rateLimited(c, "1.0", fault.style);
      else if (fault.kind === "http_error") return serverFault(c, fault.status);
    }
    // Late creates that are due exist, with their SSH servers, before the route looks.
    deps.state.materialiseDue();
    await deps.state.ready();
    await next();
  };
}

export function toResponse(err: unknown, c: Context): Response {
  if (err instanceof ZodError) {
    const msg = err.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
    return c.json(
      { success: false, error: "invalid_args", msg: `error 400/1782: Invalid args: ${msg}` },
      400,
    );
  }
  if (err instanceof SyntaxError)
    return c.json(
      { success: false, error: "invalid_args", msg: "error 400/1782: Invalid args: bad JSON" },
      400,
    );
  if (err instanceof VastHttpError) {
    if (typeof err.body === "string") return c.text(err.body, err.status as 400);
    return c.json(err.body, err.status as 400);
  }
  return c.json(
    {
      success: false,
      error: "server_error",
      msg: "error 500/1000: Internal server error, please try again.",
    },
    500,
  );
}

export async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // fall through to Vast's invalid-args answer
  }
  throw errors.invalidArgs("request body must be a JSON object");
}

export function idParam(c: Context): number {
  const id = Number(c.req.param("id"));
  if (!Number.isInteger(id) || id <= 0) throw errors.invalidArgs(`bad id ${c.req.param("id")}`);
  return id;
}
