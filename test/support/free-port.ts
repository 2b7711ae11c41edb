/**
 * A loopback TCP port that was free a moment ago: for servers that must be told their port up
 * front (DynamoDB Local, sshd) and for addresses that must refuse connections.
 */
import { createServer } from "node:net";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}
