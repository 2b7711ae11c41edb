/**
 * The stack's ports: a taken one is refused up front with an error naming the port and the
 * environment variable that chose it; `freePort` finds one that can be listened on.
 */
import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { assertPortFree, freePort, PortInUseError } from "../src/ports";

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

function listen(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    servers.push(server);
    server.once("error", reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : 0);
    });
  });
}

describe("the stack's ports", () => {
  it("refuses a port something listens on, naming the port and its variable", async () => {
    const port = await listen(0, "127.0.0.1");
    const refused = await assertPortFree(port, "PORT").catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PortInUseError);
    expect(refused).toMatchObject({ port, setting: "PORT" });
    expect((refused as Error).message).toBe(
      `port ${port} (PORT) is already in use: stop what listens there, or set PORT to another port`,
    );
  });

  it("refuses a port taken on every interface (as DynamoDB Local's Java server takes it)", async () => {
    const port = await listen(0, "0.0.0.0");
    await expect(assertPortFree(port, "DYNAMODB_PORT")).rejects.toThrow(
      `port ${port} (DYNAMODB_PORT) is already in use`,
    );
  });

  it("accepts a port once it is free again, and 0 (any port) always", async () => {
    const port = await listen(0, "127.0.0.1");
    await expect(assertPortFree(port, "AWS_PORT")).rejects.toBeInstanceOf(PortInUseError);
    await new Promise((resolve) => servers.pop()?.close(resolve));
    await expect(assertPortFree(port, "AWS_PORT")).resolves.toBeUndefined();
    await expect(assertPortFree(0, "AWS_PORT")).resolves.toBeUndefined();
  });

  it("finds free ports that can be listened on", async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    await expect(assertPortFree(port, "EVENTS_PORT")).resolves.toBeUndefined();
    expect(await listen(port, "127.0.0.1")).toBe(port);
    // While it is held, it is not handed out again.
    expect(await freePort()).not.toBe(port);
  });
});
