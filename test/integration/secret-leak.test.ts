/**
 * The Vast API key through the whole system: a proxy in front of the simulator answers the
 * create call with an error body that echoes the key at every depth (top level, nested objects
 * and arrays, `msg`/`detail`/`error`, as `Bearer <key>`, across the 500-character cut). The job
 * fails with a reason a person can read — and no 8-character piece of the key is anywhere: the
 * job item, its attempts, its timeline, the published events, or what was logged.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { createRecordingLogger } from "../../packages/core/src/observability";
import { expectInvariantsHold, startScenario, useScenarios } from "../support/provision-harness";
import { everythingAbout, secretFragmentsIn } from "../support/secret-scan";

const scenarios = useScenarios(startScenario);

/** An error body that repeats `key` everywhere a careless client might copy it from. */
function echoingBody(key: string) {
  const deep = (level: number): unknown =>
    level === 0 ? `key=${key}` : { detail: deep(level - 1), list: [key, { msg: `Bearer ${key}` }] };
  return {
    success: false,
    error: "invalid_args",
    msg: {
      detail: { reason: `bad key ${key}`, nested: deep(6) },
      filler: "x".repeat(480 - key.length) + key,
    },
    detail: [`Bearer ${key}`, deep(3)],
    message: `${"y".repeat(495)}${key}`,
  };
}

/** Forwards everything to the simulator, except creates: those answer 400 with the echo. */
async function echoingProxy(simUrl: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const key = String(req.headers.authorization ?? "").replace(/^Bearer /, "");
    if (req.method === "PUT" && /^\/api\/v0\/asks\/\d+\//.test(req.url ?? "")) {
      res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify(echoingBody(key)));
      return;
    }
    const upstream = await fetch(`${simUrl}${req.url}`, {
      method: req.method,
      headers: req.headers as Record<string, string>,
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    res.writeHead(upstream.status, {
      "content-type": upstream.headers.get("content-type") ?? "application/json",
    });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe("the Vast API key never leaks", () => {
  it("from an error body that echoes it at every depth: not in the job, its timeline, the events or the logs", async () => {
    const logger = createRecordingLogger();
    let proxy: { close(): Promise<void> } | undefined;
    const s = await scenarios.start({
      seed: 121,
      logger,
      vastProxy: async (simUrl) => {
        const started = await echoingProxy(simUrl);
        proxy = started;
        return started.url;
      },
    });
    try {
      const jobId = await s.submit();
      const job = await s.run(jobId, (j) => j.state === "failed", { maxRounds: 5 });
      expect(job.reason).toMatch(/^Vast refused to rent: /);
      const key = s.sim.apiKey;
      const everything = [
        job,
        await s.store.listAttempts(jobId),
        await s.store.getTimeline(jobId),
        s.events.events,
        logger.records,
      ];
      for (const part of everything) expect(secretFragmentsIn(everythingAbout(part), key)).toEqual([]);
      // The scan can see the key where it is: the raw body the proxy sent holds it many times.
      expect(secretFragmentsIn(JSON.stringify(echoingBody(key)), key).length).toBeGreaterThan(0);
      expect(s.sim.admin.instances()).toEqual([]);
      await expectInvariantsHold(s);
    } finally {
      await proxy?.close();
    }
  });
});
