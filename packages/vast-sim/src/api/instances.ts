/**
 * Instance routes: show (`{"instances":{…}}` / `{"instances":null}`), start/stop/label,
 * destroy, and the legacy v0 list that now answers 410 `deprecated_endpoint`.
 */
import type { Hono } from "hono";
import { errors } from "../errors";
import { guard, idParam, jsonBody, type RouteDeps, type SimEnv } from "./http";

export function instanceRoutes(app: Hono<SimEnv>, deps: RouteDeps) {
  const { state } = deps;

  app.get("/api/v0/instances", guard(deps, "legacy_list", "required"), () => {
    throw errors.deprecatedList();
  });

  app.get("/api/v0/instances/:id", guard(deps, "show", "required"), (c) => {
    const inst = state.live(idParam(c));
    return c.json({ instances: inst ? state.show(inst) : null });
  });

  app.put("/api/v0/instances/:id", guard(deps, "manage", "instance"), async (c) => {
    const inst = state.liveOrThrow(idParam(c));
    const body = await jsonBody(c);
    if (typeof body.label === "string" || body.label === null) {
      if (c.get("identity").kind !== "account") throw errors.authError();
      const label = body.label as string | null;
      if (label !== null && label.length > 1024) {
        throw errors.invalidArgs("label_too_long");
      }
      inst.label = label;
      return c.json({ success: true, msg: `label for ${inst.id} set to '${label ?? ""}'` });
    }
    if (body.state === "stopped") await state.stop(inst);
    else if (body.state === "running") await state.start(inst);
    else throw errors.invalidArgs("state must be running or stopped");
    return c.json({ success: true });
  });

  app.delete("/api/v0/instances/:id", guard(deps, "destroy", "instance"), async (c) => {
    const inst = state.liveOrThrow(idParam(c));
    await state.destroy(inst);
    return c.json({ success: true });
  });
}
