/**
 * The admin API under `/_sim/` (never under Vast's paths), guarded by the same API key:
 *   GET    /_sim/instances               every instance ever created, with history and ledger
 *   GET    /_sim/instances/:id
 *   GET    /_sim/ledger                  { total, instances }
 *   GET    /_sim/offers
 *   GET    /_sim/faults                  active faults (and the random profile)
 *   POST   /_sim/faults                  a FaultSpec → { id, applied }
 *   DELETE /_sim/faults/:id ; DELETE /_sim/faults
 *   PUT    /_sim/faults/profile          a RandomFaultProfile, or null to turn it off
 *   GET    /_sim/faults/counts           faults that took effect, by kind
 *   GET    /_sim/clock ; POST /_sim/clock/advance { seconds }
 *   PUT    /_sim/instances/:id/training  { durationSeconds, fail, exitCode?, failMessage? }
 *   GET    /_sim/requests ; DELETE /_sim/requests   Vast API calls served { total, byEndpoint }
 *   POST   /_sim/reset
 */
import type { Hono, MiddlewareHandler } from "hono";
import type { SimAdmin } from "../admin";
import { errors } from "../errors";
import { idParam, jsonBody, presentedKey, type RouteDeps, type SimEnv } from "./http";

export function adminRoutes(app: Hono<SimEnv>, deps: RouteDeps, admin: SimAdmin) {
  const auth: MiddlewareHandler<SimEnv> = async (c, next) => {
    if (presentedKey(c) !== deps.apiKey) throw errors.authError();
    // Late creates that are due exist, with their SSH servers, before the admin looks.
    deps.state.materialiseDue();
    await deps.state.ready();
    await next();
  };
  app.use("/_sim/*", auth);
  app.get("/_sim/instances", (c) => c.json({ instances: admin.instances() }));
  app.get("/_sim/instances/:id", (c) => {
    const inst = admin.instance(idParam(c));
    return inst ? c.json(inst) : c.json({ success: false, error: "not_found", msg: "no such instance" }, 404);
  });
  app.get("/_sim/ledger", (c) => c.json(admin.ledger()));
  app.get("/_sim/offers", (c) => c.json({ offers: admin.offers() }));
  app.get("/_sim/faults", (c) => c.json({ faults: admin.faults(), profile: deps.faults.getProfile() }));
  app.get("/_sim/faults/counts", (c) => c.json(admin.faultCounts()));
  app.post("/_sim/faults", async (c) => c.json(await admin.addFault((await jsonBody(c)) as never)));
  app.delete("/_sim/faults", (c) => {
    admin.clearFaults();
    return c.json({ success: true });
  });
  app.delete("/_sim/faults/:id", (c) => c.json({ success: admin.removeFault(idParam(c)) }));
  app.put("/_sim/faults/profile", async (c) => {
    const text = (await c.req.text()).trim();
    admin.setFaultProfile(text === "" || text === "null" ? null : (JSON.parse(text) as never));
    return c.json({ success: true });
  });
  app.get("/_sim/clock", (c) => c.json({ nowMs: admin.now(), timeScale: deps.clock.timeScale }));
  app.post("/_sim/clock/advance", async (c) => {
    const body = await jsonBody(c);
    if (typeof body.seconds !== "number") throw errors.invalidArgs("seconds must be a number");
    admin.advance(body.seconds);
    return c.json({ nowMs: admin.now() });
  });
  app.put("/_sim/instances/:id/training", async (c) => {
    await admin.setTrainingBehaviour(idParam(c), (await jsonBody(c)) as never);
    return c.json({ success: true });
  });
  app.get("/_sim/requests", (c) => c.json(admin.requestCounts()));
  app.delete("/_sim/requests", (c) => {
    admin.resetRequestCounts();
    return c.json({ success: true });
  });
  app.post("/_sim/reset", async (c) => {
    await admin.reset();
    return c.json({ success: true });
  });
}
