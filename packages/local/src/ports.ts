/**
 * Ports the stack listens on: a free one when asked for 0, and a clear refusal when a chosen one
 * is taken (`PORT=8787 is in use`) before anything else has started.
 */
import { createServer } from "node:net";

/** A port is taken; names the setting that chose it. */
export class PortInUseError extends Error {
  override readonly name = "PortInUseError";
  constructor(
    readonly port: number,
    readonly setting: string,
  ) {
    super(
      `port ${port} (${setting}) is already in use: stop what listens there, or set ${setting} to another port`,
    );
  }
}

/** A loopback TCP port that was free a moment ago. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Resolves when `port` can be listened on at `host`; else PortInUseError naming `setting`. */
export function assertPortFree(port: number, setting: string, host = "127.0.0.1"): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? new PortInUseError(port, setting) : error),
    );
    server.listen(port, host, () => server.close(() => resolve()));
  });
}
