/**
 * vitest global setup: one DynamoDB Local for the whole run instead of one per test file
 * (each JVM start costs seconds on a 2-core machine). Test files get its endpoint through
 * `inject("dynamoEndpoint")` (see `startDynamoLocal`) and isolate themselves with fresh tables.
 *
 * Before any of that, the system prerequisites are checked (a missing one stops the run with one line
 * saying what to install) and the folders outside the temporary ones are listed; the run fails if the
 * tests left anything new there (see host-leftovers.ts).
 */
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { launchDynamoLocalProcess } from "./dynamodb";
import { leftoversError, snapshotHost } from "./host-leftovers";
import { checkPrerequisites } from "./prerequisites";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

declare module "vitest" {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  checkPrerequisites();
  const host = snapshotHost(repoRoot);
  const dynamo = await launchDynamoLocalProcess();
  project.provide("dynamoEndpoint", dynamo.endpoint);
  return async () => {
    await dynamo.stop();
    const leftovers = leftoversError(host, repoRoot);
    if (leftovers) {
      console.error(`\n${leftovers.message}\n`);
      throw leftovers;
    }
  };
}
