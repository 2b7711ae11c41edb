/**
 * The callback sender against receivers that never finish answering: each try has an overall
 * deadline, so a receiver trickling its status line and headers a byte at a time cannot hold the
 * provision Lambda; the try ends as a retry (re-queued by the callback step's backoff). Once the
 * status line is in, the response is dropped without waiting for a body.
 */
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CallbackDelivery, HttpCallbackSender } from "../../src/callbacks";
import { systemClock } from "../../src/clock";
import { deliverCallback, type JobDeps } from "../../src/jobs";
import type { CallbackMessage } from "../../src/queue";
import { startHttpsServer, type TestHttpsServer } from "../dataset/https-server";

const SECRET = "callback-signing-secret-for-tests";
const DEADLINE_MS = 300;

const delivery: CallbackDelivery = {
  deliveryId: "0123456789abcdef0123456789abcdef",
  occurredAt: Date.now(),
  event: {
    detailType: "Job Failed",
    detail: {
      jobId: "job_x",
      reason: "r",
      costUsd: 0,
      costBreakdown: { gpuUsd: 0, storageUsd: 0, bandwidthUsd: 0 },
    },
  },
};

/** Writes `text` to the raw socket one byte every `everyMs`, bypassing the HTTP server's response. */
function trickle(socket: Socket, text: string, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (i < text.length && socket.writable) socket.write(text[i++] as string);
  }, everyMs);
  socket.on("close", () => clearInterval(timer));
  socket.on("error", () => {});
}

let server: TestHttpsServer;
let mode: "slow-headers" | "slow-body" = "slow-headers";
let closedAfterMs: number[] = [];

beforeAll(async () => {
  server = await startHttpsServer((req) => {
    const start = Date.now();
    req.socket.on("close", () => closedAfterMs.push(Date.now() - start));
    req.resume();
    if (mode === "slow-headers") {
      // A byte every 50 ms keeps the socket busy (no idle timeout) but would take ~10 s.
      trickle(req.socket, `HTTP/1.1 200 OK\r\nX-Slow: ${"a".repeat(200)}\r\n\r\n`, 50);
    } else {
      req.socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
      trickle(req.socket, "x".repeat(1000), 50);
    }
  });
});
afterAll(async () => {
  await server?.close();
});

function sender(logged: Array<Record<string, unknown>> = []): HttpCallbackSender {
  return new HttpCallbackSender({
    secret: SECRET,
    policy: server.policy,
    agent: server.agent,
    clock: systemClock,
    deadlineMs: DEADLINE_MS,
    logger: {
      debug: () => {},
      info: () => {},
      warn: (message, attributes) => logged.push({ message, ...attributes }),
      error: () => {},
    },
  });
}

describe("HttpCallbackSender deadline", () => {
  it("a receiver trickling its headers is cut off at the deadline, as a retry", async () => {
    mode = "slow-headers";
    closedAfterMs = [];
    const logged: Array<Record<string, unknown>> = [];
    const started = Date.now();
    const outcome = await sender(logged).send(`${server.base}/hook`, delivery);
    const took = Date.now() - started;
    expect(outcome).toBe("retry");
    expect(took).toBeGreaterThanOrEqual(DEADLINE_MS - 20);
    expect(took).toBeLessThan(DEADLINE_MS + 1_000);
    expect(logged).toEqual([
      expect.objectContaining({ message: "callback failed", error: "CallbackDeadlineError" }),
    ]);
    // The connection is gone, not left trickling.
    await expect.poll(() => closedAfterMs.length, { timeout: 1_000, interval: 20 }).toBe(1);
  });

  it("the callback step re-queues a try that hit the deadline, with the same delivery id", async () => {
    mode = "slow-headers";
    const enqueued: Array<{ message: unknown; delaySeconds: number | undefined }> = [];
    const deps = {
      callbacks: sender(),
      clock: systemClock,
      logger: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
      queue: {
        enqueue: async (message: unknown, options?: { delaySeconds?: number }) => {
          enqueued.push({ message, delaySeconds: options?.delaySeconds });
        },
      },
    } as unknown as JobDeps;
    const message: CallbackMessage = {
      type: "callback",
      jobId: "job_x",
      url: `${server.base}/hook`,
      attempt: 1,
      delivery: { ...delivery, occurredAt: Date.now() },
    };
    const started = Date.now();
    expect(await deliverCallback(deps, message)).toBe("retrying");
    expect(Date.now() - started).toBeLessThan(DEADLINE_MS + 1_000);
    expect(enqueued).toEqual([{ message: { ...message, attempt: 2 }, delaySeconds: 5 }]);
  });

  it("once the status line is in, the body is not waited for: the connection is dropped", async () => {
    mode = "slow-body";
    closedAfterMs = [];
    const started = Date.now();
    expect(await sender().send(`${server.base}/hook`, delivery)).toBe("delivered");
    expect(Date.now() - started).toBeLessThan(DEADLINE_MS);
    // Without reading the body to its end (it would take ~50 s at this pace).
    await expect.poll(() => closedAfterMs.length, { timeout: 1_000, interval: 20 }).toBe(1);
    expect(closedAfterMs[0]).toBeLessThan(1_000);
  });
});
