/** Offer search: `POST /api/v0/bundles/`, the legacy `GET /api/v0/bundles?q=`, `PUT /search/asks/`, GPU names. */
import type { Hono } from "hono";
import { errors } from "../errors";
import { searchOffers } from "../query";
import { guard, jsonBody, type RouteDeps, type SimEnv } from "./http";

export function searchRoutes(app: Hono<SimEnv>, deps: RouteDeps) {
  const search = (body: Record<string, unknown>) => ({ offers: searchOffers(deps.state.market.all(), body) });

  app.post("/api/v0/bundles", guard(deps, "search", "optional"), async (c) =>
    c.json(search(await jsonBody(c))),
  );

  app.get("/api/v0/bundles", guard(deps, "search", "optional"), (c) => {
    const q = c.req.query("q");
    let body: unknown = {};
    if (q) {
      try {
        body = JSON.parse(q);
      } catch {
        throw errors.invalidArgs("q must be URL-encoded JSON");
      }
    }
    if (!body || typeof body !== "object" || Array.isArray(body))
      throw errors.invalidArgs("q must be a JSON object");
    return c.json(search(body as Record<string, unknown>));
  });

  app.put("/api/v0/search/asks", guard(deps, "search", "optional"), async (c) => {
    const body = await jsonBody(c);
    const q = body.q && typeof body.q === "object" ? (body.q as Record<string, unknown>) : {};
    return c.json(search(q));
  });

  app.get("/api/v0/gpu_names/unique", guard(deps, "gpu_names", "optional"), (c) =>
    c.json({ success: true, gpu_names: [...new Set(deps.state.market.all().map((o) => o.gpu_name))].sort() }),
  );
}
