/**
 * A local HTTPS server for dataset tests: a throwaway self-signed certificate for 127.0.0.1
 * (made with openssl in a temp folder), a guarded `Agent` that trusts it and whose outbound
 * policy allows 127.0.0.1 (and any extra names the certificate is made for), a log of the
 * requests seen and a count of the TCP connections accepted.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Agent, createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { guardedHttpsAgent, type LookupFunction, type OutboundPolicy } from "../../src/net";

const run = promisify(execFile);

export interface SeenRequest {
  method: string;
  url: string;
  range: string | undefined;
}

export interface TestHttpsServer {
  base: string;
  port: number;
  /** The server's certificate (PEM), for agents of a test's own. */
  cert: Buffer;
  /** Allows 127.0.0.1 and the extra `hostNames`: the loopback server is a deliberate exception. */
  policy: OutboundPolicy;
  /**
   * A `guardedHttpsAgent` under `policy` that trusts the server's certificate; keep-alive off so
   * every request shows up as its own. Extra `hostNames` resolve to 127.0.0.1 without DNS.
   */
  agent: Agent;
  seen: SeenRequest[];
  /** TCP connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export interface HttpsServerOptions {
  /** Names the certificate also covers; the agent resolves them to 127.0.0.1 and allows them. */
  hostNames?: string[];
}

export async function startHttpsServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  options: HttpsServerOptions = {},
): Promise<TestHttpsServer> {
  const hostNames = options.hostNames ?? [];
  const dir = await mkdtemp(join(tmpdir(), "dataset-https-"));
  try {
    await run("openssl", [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"],
      ...[
        "-addext",
        `subjectAltName=${["IP:127.0.0.1", ...hostNames.map((name) => `DNS:${name}`)].join(",")}`,
      ],
      ...["-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
    ]);
    const cert = await readFile(join(dir, "cert.pem"));
    const seen: SeenRequest[] = [];
    const server = createServer({ key: await readFile(join(dir, "key.pem")), cert }, (req, res) => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", range: req.headers.range });
      handler(req, res);
    });
    let connections = 0;
    server.on("connection", () => connections++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const policy: OutboundPolicy = { allowHosts: ["127.0.0.1", ...hostNames] };
    const agent = guardedHttpsAgent({ policy, ca: cert, keepAlive: false, resolver: loopbackFor(hostNames) });
    return {
      base: `https://127.0.0.1:${port}`,
      port,
      cert,
      policy,
      agent,
      seen,
      connections: () => connections,
      async close() {
        agent.destroy();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Resolves `names` to 127.0.0.1 (no DNS); any other name fails as unknown. */
export function loopbackFor(names: readonly string[]): LookupFunction {
  return stubResolver(Object.fromEntries(names.map((name) => [name, "127.0.0.1"])));
}

/** A `lookup` answering from a table: `{ "internal.test": "10.0.0.1" }`; other names are ENOTFOUND. */
export function stubResolver(table: Record<string, string>): LookupFunction & { asked: string[] } {
  const asked: string[] = [];
  const resolver: LookupFunction = (hostname, options, callback) => {
    asked.push(hostname);
    const address = table[hostname];
    setImmediate(() => {
      if (address === undefined) {
        const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
        return callback(error, options.all ? [] : "", undefined);
      }
      const family = address.includes(":") ? 6 : 4;
      if (options.all) return callback(null, [{ address, family }]);
      callback(null, address, family);
    });
  };
  return Object.assign(resolver, { asked });
}
