/**
 * A real HTTP server on 127.0.0.1:0 that each test scripts: routes answer with a fixed reply,
 * a sequence of replies (the last one repeats), or a function. Every request is recorded so
 * tests can count hits and inspect headers, queries and bodies. Replies can also hang (for
 * timeouts) or drop the socket (for network errors).
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawBody: string;
  body: unknown;
  /** performance.now() when the request arrived. */
  at: number;
}

export interface Reply {
  status?: number;
  json?: unknown;
  text?: string;
  headers?: Record<string, string>;
  delayMs?: number;
  /** Never answer (the client must time out). */
  hang?: boolean;
  /** Destroy the socket without answering (a network error for the client). */
  drop?: boolean;
}

export type Handler = (req: RecordedRequest) => Reply | Promise<Reply>;

interface Route {
  method: string;
  path: string | RegExp;
  handler: Handler;
}

export interface ScriptedServer {
  url: string;
  requests: RecordedRequest[];
  /** Adds a route; later routes win over earlier ones for the same request. */
  on(method: string, path: string | RegExp, reply: Reply | Reply[] | Handler): void;
  hits(method: string, path: string | RegExp): RecordedRequest[];
  reset(): void;
  close(): Promise<void>;
}

export async function startScriptedServer(): Promise<ScriptedServer> {
  let routes: Route[] = [];
  const requests: RecordedRequest[] = [];
  const matches = (route: { method: string; path: string | RegExp }, method: string, path: string) =>
    route.method === method && (typeof route.path === "string" ? route.path === path : route.path.test(path));

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const rawBody = Buffer.concat(chunks).toString("utf8");
      let body: unknown = rawBody;
      try {
        body = rawBody ? JSON.parse(rawBody) : null;
      } catch {
        // keep the text
      }
      const recorded: RecordedRequest = {
        method: req.method ?? "GET",
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        rawBody,
        body,
        at: performance.now(),
      };
      requests.push(recorded);
      const route = [...routes].reverse().find((r) => matches(r, recorded.method, recorded.path));
      const reply: Reply = route
        ? await route.handler(recorded)
        : { status: 599, json: { error: "no_route", msg: `${recorded.method} ${recorded.path}` } };
      if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
      if (reply.hang) return;
      if (reply.drop) {
        req.socket.destroy();
        return;
      }
      const isJson = reply.json !== undefined;
      res.writeHead(reply.status ?? 200, {
        "content-type": isJson ? "application/json" : "text/plain",
        ...reply.headers,
      });
      res.end(isJson ? JSON.stringify(reply.json) : (reply.text ?? ""));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    on(method, path, reply) {
      let handler: Handler;
      if (typeof reply === "function") handler = reply;
      else if (Array.isArray(reply)) {
        const queue = [...reply];
        handler = () => (queue.length > 1 ? queue.shift()! : queue[0]!);
      } else handler = () => reply;
      routes.push({ method, path, handler });
    },
    hits: (method, path) => requests.filter((r) => matches({ method, path }, r.method, r.path)),
    reset() {
      routes = [];
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
