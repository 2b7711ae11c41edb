/**
 * The HTTP callback notifier against a real local HTTP server: it posts the job's outcome as
 * JSON, and whatever the endpoint does (refuse, hang, vanish) it returns instead of throwing,
 * within its timeout, without logging the callback URL's path or query (which may hold a token).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpNotifier, type JobNotification } from "../../packages/core/src/jobs";
import { createRecordingLogger } from "../../packages/core/src/observability";
import { freePort } from "../support/free-port";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let server: Server;
let base: string;
let handler: Handler = (_req, res) => res.end();
const received: { method?: string; url?: string; type?: string; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      received.push({ method: req.method, url: req.url, type: req.headers["content-type"], body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const notification: JobNotification = {
  jobId: "job_abc",
  status: "succeeded",
  artifact: {
    bucket: "artifacts",
    key: "artifacts/job_abc/job_abc.safetensors",
    bytes: 42,
    sha256: "ab".repeat(32),
  },
  costUsd: 0.1234,
  reason: "LoRA stored",
};

describe("HttpNotifier", () => {
  it("posts the outcome as JSON and reports delivery", async () => {
    handler = (_req, res) => res.writeHead(204).end();
    const logger = createRecordingLogger();
    const notifier = new HttpNotifier({ logger });
    const result = await notifier.notify(`${base}/hooks/done?token=s3cr3t-token`, notification);
    expect(result).toEqual({ delivered: true });
    const last = received.at(-1);
    expect(last).toMatchObject({
      method: "POST",
      url: "/hooks/done?token=s3cr3t-token",
      type: "application/json",
    });
    expect(JSON.parse(last?.body ?? "")).toEqual(notification);
    expect(JSON.stringify(logger.records)).not.toContain("s3cr3t-token");
  });

  it("a refusing endpoint is reported, not thrown", async () => {
    handler = (_req, res) => res.writeHead(500).end("boom");
    const logger = createRecordingLogger();
    const result = await new HttpNotifier({ logger }).notify(`${base}/x?token=s3cr3t-token`, notification);
    expect(result).toEqual({ delivered: false });
    expect(JSON.stringify(logger.records)).toContain("500");
    expect(JSON.stringify(logger.records)).not.toContain("s3cr3t-token");
  });

  it("a hanging endpoint is given up on after the timeout", async () => {
    handler = () => {};
    const started = Date.now();
    const result = await new HttpNotifier({ timeoutMs: 150 }).notify(`${base}/hang`, notification);
    expect(result).toEqual({ delivered: false });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("an unreachable endpoint, a redirect or a malformed URL never throw", async () => {
    const notifier = new HttpNotifier({ timeoutMs: 1_000 });
    expect(await notifier.notify(`http://127.0.0.1:${await freePort()}/gone`, notification)).toEqual({
      delivered: false,
    });
    handler = (_req, res) => res.writeHead(302, { location: "http://169.254.169.254/" }).end();
    expect(await notifier.notify(`${base}/redirect`, notification)).toEqual({ delivered: false });
    expect(await notifier.notify("not a url", notification)).toEqual({ delivered: false });
  });
});
