/**
 * SSH keys: account keys (`GET/POST /api/v0/ssh/`, `DELETE /api/v0/ssh/{id}/`; new keys reach
 * instances created afterwards) and per-instance keys (`POST/GET /api/v0/instances/{id}/ssh/`,
 * `DELETE /api/v0/instances/{id}/ssh/{key_id}/`), which the instance's SSH server accepts at once.
 */
import type { Context, Hono } from "hono";
import { errors, vastError } from "../errors";
import { guard, idParam, jsonBody, type RouteDeps, type SimEnv } from "./http";

const KEY_LINE =
  /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/=]+( .*)?$/;

async function keyFromBody(c: Context): Promise<string> {
  const body = await jsonBody(c);
  const key = typeof body.ssh_key === "string" ? body.ssh_key.trim() : "";
  if (!KEY_LINE.test(key)) throw errors.invalidArgs("ssh_key is not a valid OpenSSH public key");
  return key;
}

export function sshKeyRoutes(app: Hono<SimEnv>, deps: RouteDeps) {
  const { state } = deps;

  app.get("/api/v0/ssh", guard(deps, "ssh_keys", "required"), (c) =>
    // Documented with `key`, read by SkyPilot as `public_key`: both are given.
    c.json(state.accountKeys.filter((k) => k.deleted_at === null).map((k) => ({ ...k, key: k.public_key }))),
  );

  app.post("/api/v0/ssh", guard(deps, "ssh_keys", "required"), async (c) => {
    const key = state.addAccountKey(await keyFromBody(c));
    return c.json({ success: true, key });
  });

  app.delete("/api/v0/ssh/:id", guard(deps, "ssh_keys", "required"), (c) => {
    const id = idParam(c);
    const key = state.accountKeys.find((k) => k.id === id && k.deleted_at === null);
    if (!key)
      throw vastError(404, "no_such_ssh_key", `error 404/3340: no_such_ssh_key SSH key ${id} not found.`);
    key.deleted_at = new Date(deps.clock.now()).toISOString();
    return c.json({ success: true });
  });

  app.post("/api/v0/instances/:id/ssh", guard(deps, "instance_ssh", "required"), async (c) => {
    const inst = state.liveOrThrow(idParam(c));
    const key = await keyFromBody(c);
    state.attachKey(inst, key);
    return c.json({ success: true, msg: `SSH key attached to instance ${inst.id}.` });
  });

  app.get("/api/v0/instances/:id/ssh", guard(deps, "instance_ssh", "required"), (c) => {
    const inst = state.liveOrThrow(idParam(c));
    const keys = [...inst.accountKeys.map((k, i) => ({ id: -(i + 1), public_key: k })), ...inst.attachedKeys];
    // Vast returns the list as a JSON-encoded string.
    return c.json({ success: true, ssh_keys: JSON.stringify(keys) });
  });

  app.delete("/api/v0/instances/:id/ssh/:keyId", guard(deps, "instance_ssh", "required"), (c) => {
    const inst = state.liveOrThrow(idParam(c));
    const keyId = Number(c.req.param("keyId"));
    const before = inst.attachedKeys.length;
    inst.attachedKeys = inst.attachedKeys.filter((k) => k.id !== keyId);
    if (inst.attachedKeys.length === before) {
      throw vastError(404, "no_such_ssh_key", `error 404/3340: no_such_ssh_key SSH key ${keyId} not found.`);
    }
    return c.json({ success: true, msg: `SSH key ${keyId} detached from instance ${inst.id}.` });
  });
}
