/**
 * Instance routes: show (`{"instances":{…}}` / `{"instances":null}`), start/stop/label,
 * destroy (which a `destroy_ignored` fault can swallow), and the legacy v0 list that now
 * answers 410 `deprecated_endpoint`.
 */
import type { Hono } from "hono";
import { errors } from "../errors";
import { guard, idParam, jsonBody, type RouteDeps, type SimEnv } from "./http";

function numberList(v: unknown): number[] {
  if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x)))
    throw errors.invalidArgs("ids must be a list of instance ids");
  return v as number[];
}

export function instanceRoutes(app: Hono<SimEnv>, deps: RouteDeps) {
  const { state } = deps;

  app.get("/api/v0/instances", guard(deps, "legacy_list", "required"), () => {
    throw errors.deprecatedList();
  });

  // Bulk forms the CLI uses: `PUT /instances/ {state, ids}` and `DELETE /instances/ {instance_ids}`.
  app.put("/api/v0/instances", guard(deps, "manage", "required"), async (c) => {
    const body = await jsonBody(c);
    const ids = numberList(body.ids);
    if (body.state !== "running" && body.state !== "stopped")
      throw errors.invalidArgs("state must be running or stopped");
    for (const id of ids) {
      const inst = state.live(id);
      if (!inst) continue;
      if (body.state === "stopped") await state.stop(inst);
      else await state.start(inst);
    }
    return c.json({ success: true });
  });

  app.delete("/api/v0/instances", guard(deps, "destroy", "required"), async (c) => {
    const ids = numberList((await jsonBody(c)).instance_ids);
    for (const id of ids) {
      const inst = state.live(id);
      if (inst) await state.requestDestroy(inst);
    }
    return c.json({ success: true });
  });

  for (const action of ["reboot", "recycle"] as const) {
    app.put(`/api/v0/instances/${action}/:id`, guard(deps, "manage", "instance"), async (c) => {
      await state.reboot(state.liveOrThrow(idParam(c)));
      return c.json({ success: true });
    });
  }

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
    await state.requestDestroy(state.liveOrThrow(idParam(c)));
    return c.json({ success: true });
  });
}
