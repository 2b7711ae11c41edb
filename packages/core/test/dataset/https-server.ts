/**
 * A local HTTPS server for dataset tests: a throwaway self-signed certificate for 127.0.0.1
 * (made with openssl in a temp folder), an `Agent` that trusts it, and a log of the requests seen.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Agent, createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface SeenRequest {
  method: string;
  url: string;
  range: string | undefined;
}

export interface TestHttpsServer {
  base: string;
  /** Trusts the server's certificate; keep-alive off so every request shows up as its own. */
  agent: Agent;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export async function startHttpsServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestHttpsServer> {
  const dir = await mkdtemp(join(tmpdir(), "dataset-https-"));
  try {
    await run("openssl", [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"],
      ...["-addext", "subjectAltName=IP:127.0.0.1"],
      ...["-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
    ]);
    const cert = await readFile(join(dir, "cert.pem"));
    const seen: SeenRequest[] = [];
    const server = createServer({ key: await readFile(join(dir, "key.pem")), cert }, (req, res) => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", range: req.headers.range });
      handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    const agent = new Agent({ ca: cert, keepAlive: false });
    return {
      base: `https://127.0.0.1:${port}`,
      agent,
      seen,
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
