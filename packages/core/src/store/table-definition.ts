/**
 * The one definition of the jobs table: key schema, the state index and the TTL attribute.
 * `sst.config.ts` builds the cloud table from it and `createTable` builds the local one, so the
 * two can never drift apart.
 */
import {
  CreateTableCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";

export const JOBS_TABLE = {
  partitionKey: "pk",
  sortKey: "sk",
  /** Overloaded index: `STATE#<state>` finds active jobs by state; `HOSTFAIL` finds recent host failures. */
  stateIndex: { name: "gsi1", partitionKey: "gsi1pk", sortKey: "gsi1sk" },
  /** Epoch seconds; DynamoDB deletes finished records some time after it passes. */
  ttlAttribute: "expiresAt",
} as const;

/** The shape `sst.aws.Dynamo` takes (fields, primaryIndex, globalIndexes, ttl). */
export const JOBS_TABLE_SST = {
  fields: {
    [JOBS_TABLE.partitionKey]: "string",
    [JOBS_TABLE.sortKey]: "string",
    [JOBS_TABLE.stateIndex.partitionKey]: "string",
    [JOBS_TABLE.stateIndex.sortKey]: "string",
  },
  primaryIndex: { hashKey: JOBS_TABLE.partitionKey, rangeKey: JOBS_TABLE.sortKey },
  globalIndexes: {
    [JOBS_TABLE.stateIndex.name]: {
      hashKey: JOBS_TABLE.stateIndex.partitionKey,
      rangeKey: JOBS_TABLE.stateIndex.sortKey,
    },
  },
  ttl: JOBS_TABLE.ttlAttribute,
} as const;

/** Creates the table (on-demand billing) with its index and TTL, e.g. in DynamoDB Local. */
export async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const { partitionKey, sortKey, stateIndex, ttlAttribute } = JOBS_TABLE;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [
        { AttributeName: partitionKey, AttributeType: "S" },
        { AttributeName: sortKey, AttributeType: "S" },
        { AttributeName: stateIndex.partitionKey, AttributeType: "S" },
        { AttributeName: stateIndex.sortKey, AttributeType: "S" },
      ],
      KeySchema: [
        { AttributeName: partitionKey, KeyType: "HASH" },
        { AttributeName: sortKey, KeyType: "RANGE" },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: stateIndex.name,
          KeySchema: [
            { AttributeName: stateIndex.partitionKey, KeyType: "HASH" },
            { AttributeName: stateIndex.sortKey, KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "ALL" },
        },
      ],
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: tableName });
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true },
    }),
  );
}
