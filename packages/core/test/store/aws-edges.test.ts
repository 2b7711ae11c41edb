/**
 * The store's AWS edges with a mocked DynamoDB client: how a failed condition and throttling
 * surface (the real behaviour is covered against DynamoDB Local in dynamo-job-store.test.ts).
 */
import "aws-sdk-client-mock-vitest/extend";
import {
  ConditionalCheckFailedException,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { sampleJobRequest } from "../../../../test/support/job-request";
import { DynamoJobStore, VersionConflictError } from "../../src/store";

const doc = DynamoDBDocumentClient.from(
  new (await import("@aws-sdk/client-dynamodb")).DynamoDBClient({ region: "us-east-1" }),
);
const mock = mockClient(doc);
const store = new DynamoJobStore({ client: doc, tableName: "jobs" });

const jobItem = {
  pk: "JOB#j1",
  sk: "JOB",
  jobId: "j1",
  state: "queued",
  version: 3,
  request: sampleJobRequest(),
  idempotencyKey: null,
  requestHash: "h",
  createdAt: 1,
  updatedAt: 1,
  deadlineAt: 2,
  attempt: 0,
  spentUsd: 0,
  reason: null,
};

beforeEach(() => {
  mock.reset();
  mock.on(GetCommand).resolves({ Item: jobItem });
});

describe("DynamoJobStore at the AWS edge", () => {
  it("answers a submission that lost a transaction conflict on its idempotency key with the winner's job", async () => {
    const conflict = new TransactionCanceledException({
      message: "Transaction cancelled",
      $metadata: {},
      CancellationReasons: [{ Code: "TransactionConflict" }, { Code: "None" }, { Code: "None" }],
    });
    const keyTaken = new TransactionCanceledException({
      message: "Transaction cancelled",
      $metadata: {},
      CancellationReasons: [{ Code: "ConditionalCheckFailed" }, { Code: "None" }, { Code: "None" }],
    });
    mock.on(TransactWriteCommand).rejectsOnce(conflict).rejects(keyTaken);
    mock
      .on(GetCommand, { Key: { pk: "IDEMPOTENCY#k-1", sk: "IDEMPOTENCY" } })
      .resolves({ Item: { jobId: "j1", requestHash: "h" } });
    const out = await store.createJob({
      jobId: "j2",
      request: { ...sampleJobRequest(), idempotencyKey: "k-1" },
      requestHash: "h",
    });
    expect(out).toMatchObject({ created: false, job: { jobId: "j1" } });
    expect(mock).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
  });

  it("gives up on a creation that keeps conflicting, after a bounded number of tries", async () => {
    mock.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: "Transaction cancelled",
        $metadata: {},
        CancellationReasons: [{ Code: "TransactionConflict" }],
      }),
    );
    await expect(
      store.createJob({ jobId: "j2", request: sampleJobRequest(), requestHash: "h" }),
    ).rejects.toThrow(TransactionCanceledException);
    expect(mock).toHaveReceivedCommandTimes(TransactWriteCommand, 4);
  });

  it("turns a transaction cancelled by the version condition into VersionConflictError", async () => {
    mock.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: "Transaction cancelled",
        $metadata: {},
        CancellationReasons: [{ Code: "ConditionalCheckFailed" }, { Code: "None" }],
      }),
    );
    await expect(
      store.transition("j1", 3, { type: "provision_started", reason: "go" }),
    ).rejects.toBeInstanceOf(VersionConflictError);
    expect(mock).toHaveReceivedCommandWith(TransactWriteCommand, {
      TransactItems: expect.arrayContaining([
        expect.objectContaining({
          Update: expect.objectContaining({
            ConditionExpression: "version = :expected",
            ExpressionAttributeValues: expect.objectContaining({ ":expected": 3, ":next": 4 }),
          }),
        }),
      ]),
    });
  });

  it("propagates throttling as is (the message is retried), never as a version conflict", async () => {
    mock
      .on(TransactWriteCommand)
      .rejects(new ProvisionedThroughputExceededException({ message: "Rate exceeded", $metadata: {} }));
    const error = await store.transition("j1", 3, { type: "cancel", reason: "x" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(error).not.toBeInstanceOf(VersionConflictError);
  });

  it("a transaction cancelled for another reason (throttled item) is not a conflict", async () => {
    mock.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: "Transaction cancelled",
        $metadata: {},
        CancellationReasons: [{ Code: "ThrottlingError" }, { Code: "None" }],
      }),
    );
    const error = await store.transition("j1", 3, { type: "cancel", reason: "x" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransactionCanceledException);
  });

  it("refuses a stale version before writing anything", async () => {
    await expect(store.transition("j1", 2, { type: "cancel", reason: "x" })).rejects.toBeInstanceOf(
      VersionConflictError,
    );
    expect(mock).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it("a lease held by someone else is `false`; throttling on a lease is an error", async () => {
    mock
      .on(PutCommand)
      .rejectsOnce(new ConditionalCheckFailedException({ message: "no", $metadata: {} }))
      .rejectsOnce(new ProvisionedThroughputExceededException({ message: "slow", $metadata: {} }));
    expect(await store.acquireLease("j1", "push", "me", 1000)).toBe(false);
    await expect(store.acquireLease("j1", "push", "me", 1000)).rejects.toBeInstanceOf(
      ProvisionedThroughputExceededException,
    );
  });

  it("a duplicate host failure is `false`, throttling is an error", async () => {
    const failure = { machineId: 1, jobId: "j1", attempt: 1, at: 5, reason: "r" };
    mock
      .on(TransactWriteCommand)
      .rejectsOnce(
        new TransactionCanceledException({
          message: "cancelled",
          $metadata: {},
          CancellationReasons: [{ Code: "ConditionalCheckFailed" }, { Code: "None" }],
        }),
      )
      .rejectsOnce(new ProvisionedThroughputExceededException({ message: "slow", $metadata: {} }));
    expect(await store.recordHostFailure(failure)).toBe(false);
    await expect(store.recordHostFailure(failure)).rejects.toThrow("slow");
  });

  it("finds active jobs with a Query on the state index, never a Scan", async () => {
    mock.on(QueryCommand).resolves({ Items: [jobItem], LastEvaluatedKey: { pk: "JOB#j1", sk: "JOB" } });
    const page = await store.listActiveJobs("queued", { limit: 1 });
    expect(page.jobs.map((j) => j.jobId)).toEqual(["j1"]);
    expect(page.cursor).not.toBeNull();
    expect(mock).toHaveReceivedCommandWith(QueryCommand, {
      IndexName: "gsi1",
      KeyConditionExpression: "gsi1pk = :pk",
      ExpressionAttributeValues: { ":pk": "STATE#queued" },
      Limit: 1,
    });
    expect(mock).not.toHaveReceivedCommand(ScanCommand);
  });
});
