/**
 * Logs: `PUT /api/v0/instances/request_logs/{id}/` → `{success, result_url, msg}`. The
 * `result_url` (an S3 presigned URL on Vast, needing no key) is served by the simulator: it
 * answers 404 (S3's NoSuchKey) for the first polls, then the log text.
 */
import { randomBytes } from "node:crypto";
import type { Hono } from "hono";
import type { SimInstance } from "../instance";
import { guard, idParam, jsonBody, type RouteDeps, type SimEnv } from "./http";

export const LOGS_PATH = "/_sim-logs";

function logText(inst: SimInstance, tail: number, filter: string | null): string {
  const lines = [
    `==> container ${inst.id} image ${inst.image}`,
    ...inst.history.map(
      (h) =>
        `${new Date(h.atMs).toISOString()} [vast] ${h.actual_status ?? "provisioning"}: ${h.reason}${h.status_msg ? ` — ${h.status_msg}` : ""}`,
    ),
  ];
  const kept = filter ? lines.filter((l) => l.includes(filter)) : lines;
  return `${kept.slice(-tail).join("\n")}\n`;
}

const NO_SUCH_KEY =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>';

export function logRoutes(app: Hono<SimEnv>, deps: RouteDeps) {
  const { state } = deps;

  app.put("/api/v0/instances/request_logs/:id", guard(deps, "logs", "required"), async (c) => {
    const inst = state.liveOrThrow(idParam(c));
    const body = await jsonBody(c);
    const tail = Number(body.tail ?? 1000) || 1000;
    const filter = typeof body.filter === "string" && body.filter !== "" ? body.filter : null;
    const token = randomBytes(16).toString("hex");
    state.logs.set(token, {
      instanceId: inst.id,
      pending: state.options.logPendingPolls,
      text: logText(inst, tail, filter),
    });
    return c.json({
      success: true,
      result_url: `${deps.baseUrl()}${LOGS_PATH}/${token}.log`,
      msg: "Request for logs received; they will be available at result_url shortly.",
    });
  });

  app.get(`${LOGS_PATH}/:file`, (c) => {
    const token = c.req.param("file").replace(/\.log$/, "");
    const entry = state.logs.get(token);
    if (!entry || entry.pending > 0) {
      if (entry) entry.pending -= 1;
      return c.body(NO_SUCH_KEY, 404, { "content-type": "application/xml" });
    }
    return c.text(entry.text);
  });
}
