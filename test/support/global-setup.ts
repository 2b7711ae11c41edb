/**
 * vitest global setup: one DynamoDB Local for the whole run instead of one per test file
 * (each JVM start costs seconds on a 2-core machine). Test files get its endpoint through
 * `inject("dynamoEndpoint")` (see `startDynamoLocal`) and isolate themselves with fresh tables.
 */
import type { TestProject } from "vitest/node";
import { launchDynamoLocalProcess } from "./dynamodb";

declare module "vitest" {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dynamo = await launchDynamoLocalProcess();
  project.provide("dynamoEndpoint", dynamo.endpoint);
  return () => dynamo.stop();
}
