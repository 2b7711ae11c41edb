/**
 * `JobStore` on one DynamoDB table (see `table-definition.ts` and `keys.ts`). Every write that
 * changes a job is conditional on its version, and multi-item changes (a transition and its
 * timeline entry, a job and its idempotency record) are single transactions.
 */
import { randomBytes } from "node:crypto";
import type { NativeAttributeValue } from "@aws-sdk/lib-dynamodb";
import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { type Clock, systemClock } from "../clock";
import { isTerminal, type JobEvent, type JobState, JobStateSchema, nextState } from "../jobs/state-machine";
import {
  AttemptClosedError,
  AttemptEndedError,
  AttemptHoldsOtherInstanceError,
  AttemptStillOpenError,
  IdempotencyConflictError,
  InstanceNotDestroyedError,
  InvalidCursorError,
  JobNotFoundError,
  VersionConflictError,
} from "./errors";
import type {
  AttemptEnd,
  AttemptKey,
  EndedAttemptResult,
  JobStore,
  LeaseView,
  ListJobsOptions,
  NewJob,
  TransitionOptions,
} from "./job-store";
import {
  attemptKey,
  hostFailureIndexKeys,
  hostFailureKey,
  hostReputationKey,
  idempotencyKeyItem,
  instanceKey,
  jobKey,
  leaseKey,
  onceKey,
  orphanKey,
  stateIndexKeys,
  statePartition,
  strayKey,
  systemLeaseKey,
  timelineKey,
  UNVERIFIED_DESTROYS,
  unverifiedDestroyIndexKeys,
} from "./keys";
import {
  type AttemptEndIntent,
  AttemptEndIntentSchema,
  type AttemptPatch,
  type AttemptRecord,
  AttemptRecordSchema,
  type CostBreakdown,
  type DatasetSummary,
  type HostFailure,
  HostFailureSchema,
  type InstanceOwner,
  InstanceOwnerSchema,
  type JobRecord,
  JobRecordSchema,
  type NewAttempt,
  type NewTimelineEntry,
  type StrayCharge,
  type TimelineEntry,
  TimelineEntrySchema,
  type UnverifiedDestroy,
  ZERO_COST,
} from "./records";
import { JOBS_TABLE } from "./table-definition";

type Item = Record<string, NativeAttributeValue>;
type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]["TransactItems"]
>[number];

export interface DynamoJobStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  clock?: Clock;
  /** How long finished jobs, timelines and host failures are kept before TTL deletes them. */
  retentionDays?: number;
  /** How long an idempotency key is remembered. */
  idempotencyDays?: number;
}

const DAY_S = 86_400;

/** True when the error is a failed condition (single write) or a transaction cancelled by one. */
function isConditionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "ConditionalCheckFailedException") return true;
  return failedConditions(error).length > 0;
}

/** Indexes of the transaction items whose condition failed. */
function failedConditions(error: Error): number[] {
  if (error.name !== "TransactionCanceledException") return [];
  const reasons = (error as Error & { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.flatMap((r, i) => (r.Code === "ConditionalCheckFailed" ? [i] : []));
}

/** True when DynamoDB cancelled the transaction because another one was writing the same item. */
function isTransactionConflict(error: unknown): boolean {
  if (!(error instanceof Error) || error.name !== "TransactionCanceledException") return false;
  const reasons = (error as Error & { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.some((r) => r.Code === "TransactionConflict");
}

/** Tries of a job's creating transaction when a concurrent one on the same key wins the race. */
const CREATE_TRIES = 4;

function stripKeys(item: Item): Item {
  const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g2, expiresAt: _e, ...rest } = item;
  return rest;
}

export class DynamoJobStore implements JobStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly clock: Clock;
  private readonly retentionS: number;
  private readonly idempotencyS: number;

  constructor(options: DynamoJobStoreOptions) {
    this.client = options.client;
    this.table = options.tableName;
    this.clock = options.clock ?? systemClock;
    this.retentionS = (options.retentionDays ?? 90) * DAY_S;
    this.idempotencyS = (options.idempotencyDays ?? 7) * DAY_S;
  }

  private expiresAt(afterS: number): number {
    return Math.floor(this.clock.now() / 1000) + afterS;
  }

  private timelineItem(jobId: string, entry: NewTimelineEntry): Item {
    const parsed = TimelineEntrySchema.parse(entry);
    return {
      ...timelineKey(jobId, parsed.version, parsed.at, randomBytes(4).toString("hex")),
      ...parsed,
      expiresAt: this.expiresAt(this.retentionS),
    };
  }

  private timelinePut(jobId: string, entry: NewTimelineEntry): TransactItem {
    return { Put: { TableName: this.table, Item: this.timelineItem(jobId, entry) } };
  }

  /** The job item's part of a transaction: bumps the version it is conditional on, stamps updatedAt. */
  private jobUpdate(
    jobId: string,
    expectedVersion: number,
    now: number,
    change: { set: string[]; remove?: string[]; values: Item; names?: Record<string, string> },
  ): TransactItem {
    const remove = change.remove?.length ? ` REMOVE ${change.remove.join(", ")}` : "";
    return {
      Update: {
        TableName: this.table,
        Key: jobKey(jobId),
        UpdateExpression: `SET ${["version = :next", "updatedAt = :now", ...change.set].join(", ")}${remove}`,
        ConditionExpression: "version = :expected",
        ...(change.names ? { ExpressionAttributeNames: change.names } : {}),
        ExpressionAttributeValues: {
          ...change.values,
          ":expected": expectedVersion,
          ":next": expectedVersion + 1,
          ":now": now,
        },
      },
    };
  }

  /** A transaction item that holds only if the attempt has ended. */
  private attemptEndedCheck(jobId: string, attempt: number): TransactItem {
    return {
      ConditionCheck: {
        TableName: this.table,
        Key: attemptKey(jobId, attempt),
        ConditionExpression: "attribute_not_exists(pk) OR endedAt <> :null",
        ExpressionAttributeValues: { ":null": null },
      },
    };
  }

  /** Runs a transaction; a failed condition becomes `onConflict()`'s error (the caller's meaning of it). */
  private async transact(items: TransactItem[], onConflict: (error: Error) => Error): Promise<void> {
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (error) {
      if (isConditionFailure(error)) throw onConflict(error as Error);
      throw error;
    }
  }

  async createJob(input: NewJob): Promise<{ job: JobRecord; created: boolean }> {
    const now = this.clock.now();
    const job: JobRecord = {
      jobId: input.jobId,
      state: "queued",
      version: 0,
      // Optional fields left undefined would fail marshalling unless the caller's document client
      // removes them; a JSON round trip makes the store independent of that setting.
      request: JSON.parse(JSON.stringify(input.request)) as JobRecord["request"],
      idempotencyKey: input.request.idempotencyKey ?? null,
      requestHash: input.requestHash,
      createdAt: now,
      updatedAt: now,
      deadlineAt: now + input.request.maxRuntimeMinutes * 60_000,
      attempt: 0,
      spentUsd: 0,
      costBreakdown: ZERO_COST,
      dataset: null,
      reason: "submitted",
      costUsd: null,
      artifact: null,
      endedAt: null,
    };
    const items: TransactItem[] = [
      {
        Put: {
          TableName: this.table,
          Item: { ...jobKey(job.jobId), ...stateIndexKeys("queued", now, job.jobId), ...job },
          ConditionExpression: "attribute_not_exists(pk)",
        },
      },
      this.timelinePut(job.jobId, { at: now, kind: "transition", to: "queued", reason: "submitted" }),
    ];
    const key = job.idempotencyKey;
    if (key) {
      items.unshift({
        Put: {
          TableName: this.table,
          Item: {
            ...idempotencyKeyItem(key),
            jobId: job.jobId,
            requestHash: job.requestHash,
            expiresAt: this.expiresAt(this.idempotencyS),
          },
          ConditionExpression: "attribute_not_exists(pk)",
        },
      });
    }
    try {
      await this.writeCreation(items);
      return { job, created: true };
    } catch (error) {
      if (!key || !isConditionFailure(error)) throw error;
      const existing = await this.client.send(
        new GetCommand({ TableName: this.table, Key: idempotencyKeyItem(key), ConsistentRead: true }),
      );
      const record = existing.Item;
      if (!record) throw error;
      if (record.requestHash !== job.requestHash) {
        throw new IdempotencyConflictError(key, String(record.jobId));
      }
      const found = await this.getJob(String(record.jobId));
      if (!found) throw new JobNotFoundError(String(record.jobId));
      return { job: found, created: false };
    }
  }

  /**
   * Two submissions with one idempotency key at the same moment: DynamoDB cancels one transaction
   * as a conflict rather than a failed condition. Trying again lets it see the winner's key and
   * answer with that job; the SDK does not retry a cancelled transaction itself.
   */
  private async writeCreation(items: TransactItem[]): Promise<void> {
    for (let tried = 1; ; tried++) {
      try {
        await this.client.send(new TransactWriteCommand({ TransactItems: items }));
        return;
      } catch (error) {
        if (!isTransactionConflict(error) || tried >= CREATE_TRIES) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** tried * Math.random()));
      }
    }
  }

  async getJob(jobId: string): Promise<JobRecord | null> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.table, Key: jobKey(jobId), ConsistentRead: true }),
    );
    return out.Item ? JobRecordSchema.parse(stripKeys(out.Item)) : null;
  }

  private async requireJob(jobId: string, expectedVersion: number): Promise<JobRecord> {
    const job = await this.getJob(jobId);
    if (!job) throw new JobNotFoundError(jobId);
    if (job.version !== expectedVersion) throw new VersionConflictError(jobId, expectedVersion);
    return job;
  }

  async transition(
    jobId: string,
    expectedVersion: number,
    event: JobEvent,
    options: TransitionOptions = {},
  ): Promise<JobRecord> {
    const job = await this.requireJob(jobId, expectedVersion);
    const to = nextState(job.state, event.type);
    const now = this.clock.now();
    const values: Item = { ":to": to, ":reason": event.reason };
    const set = ["#state = :to", "reason = :reason"];
    const terminal = isTerminal(to);
    const artifact = to === "succeeded" ? (options.artifact ?? null) : null;
    if (terminal) {
      // The job's result is written by the same conditional write that ends it.
      set.push("costUsd = spentUsd", "endedAt = :now", "artifact = :artifact", "expiresAt = :ttl");
      values[":ttl"] = this.expiresAt(this.retentionS);
      values[":artifact"] = artifact;
    }
    const index = stateIndexKeys(to, job.createdAt, jobId);
    set.push("gsi1pk = :gpk", "gsi1sk = :gsk");
    values[":gpk"] = index.gsi1pk;
    values[":gsk"] = index.gsi1sk;
    const items: TransactItem[] = [
      this.jobUpdate(jobId, expectedVersion, now, { set, values, names: { "#state": "state" } }),
      this.timelinePut(jobId, {
        at: now,
        version: expectedVersion + 1,
        kind: "transition",
        event: event.type,
        from: job.state,
        to,
        reason: event.reason,
        details: options.details ?? {},
      }),
    ];
    // The invariant "every ending ends the rental", enforced where every ending is written.
    if (terminal && job.attempt > 0) items.push(this.attemptEndedCheck(jobId, job.attempt));
    await this.transact(items, (error) =>
      failedConditions(error).includes(2) && !failedConditions(error).includes(0)
        ? new AttemptStillOpenError(jobId, job.attempt)
        : new VersionConflictError(jobId, expectedVersion),
    );
    return {
      ...job,
      state: to,
      version: expectedVersion + 1,
      updatedAt: now,
      reason: event.reason,
      ...(terminal ? { costUsd: job.spentUsd, endedAt: now, artifact } : {}),
    };
  }

  async endAttempt(
    jobId: string,
    expectedVersion: number,
    attempt: number,
    end: AttemptEnd,
  ): Promise<EndedAttemptResult> {
    const job = await this.requireJob(jobId, expectedVersion);
    const current = await this.getAttempt(jobId, attempt);
    if (!current) throw new JobNotFoundError(jobId);
    if (current.endedAt !== null) return { job, attempt: current, charged: false };
    if (current.instanceId !== null && current.destroyedAt === null) {
      throw new InstanceNotDestroyedError(jobId, attempt, current.instanceId);
    }
    const now = this.clock.now();
    const terminal = isTerminal(job.state);
    const costUsd = totalOf(end.cost);
    const ended: AttemptRecord = {
      ...current,
      outcome: end.outcome,
      endedAt: end.endedAt,
      costUsd,
      cost: end.cost,
      failureReason: end.failureReason ?? current.failureReason,
    };
    try {
      await this.transact(
        [
          {
            Update: {
              TableName: this.table,
              Key: attemptKey(jobId, attempt),
              UpdateExpression:
                "SET outcome = :o, endedAt = :e, costUsd = :c, cost = :cost, failureReason = :r",
              // Ended once (a redelivery finds endedAt set and charges nothing), and never while
              // an instance it holds may still be alive.
              ConditionExpression:
                "attribute_exists(pk) AND endedAt = :null AND (instanceId = :null OR destroyedAt <> :null)",
              ExpressionAttributeValues: {
                ":o": ended.outcome,
                ":e": ended.endedAt,
                ":c": costUsd,
                ":cost": end.cost,
                ":r": ended.failureReason,
                ":null": null,
              },
            },
          },
          this.jobUpdate(jobId, expectedVersion, now, this.spendChange(end.cost, terminal)),
          this.timelinePut(jobId, {
            at: now,
            version: expectedVersion + 1,
            kind: "attempt",
            reason: `attempt ${attempt} ended (${end.outcome}): $${costUsd.toFixed(4)} charged`,
            details: { attempt, outcome: end.outcome, costUsd, cost: end.cost, endedAt: end.endedAt },
          }),
        ],
        (error) =>
          failedConditions(error).includes(1) || !failedConditions(error).includes(0)
            ? new VersionConflictError(jobId, expectedVersion)
            : new AttemptAlreadyEnded(),
      );
    } catch (error) {
      if (!(error instanceof AttemptAlreadyEnded)) throw error;
      // A concurrent writer ended it first (and charged it), or recorded an instance meanwhile.
      const latest = (await this.getAttempt(jobId, attempt)) ?? current;
      if (latest.endedAt === null && latest.instanceId !== null) {
        throw new InstanceNotDestroyedError(jobId, attempt, latest.instanceId);
      }
      return { job: (await this.getJob(jobId)) ?? job, attempt: latest, charged: false };
    }
    return { job: withSpend(job, end.cost, expectedVersion + 1, now), attempt: ended, charged: true };
  }

  /** The job-item change that adds `cost` to its spend (and, for an ended job, to its final cost). */
  private spendChange(cost: CostBreakdown, terminal: boolean) {
    return {
      set: [
        "spentUsd = spentUsd + :c",
        "costBreakdown.gpuUsd = costBreakdown.gpuUsd + :gpu",
        "costBreakdown.storageUsd = costBreakdown.storageUsd + :storage",
        "costBreakdown.bandwidthUsd = costBreakdown.bandwidthUsd + :bandwidth",
        ...(terminal ? ["costUsd = spentUsd + :c"] : []),
      ],
      values: {
        ":c": totalOf(cost),
        ":gpu": cost.gpuUsd,
        ":storage": cost.storageUsd,
        ":bandwidth": cost.bandwidthUsd,
      },
    };
  }

  async recordAttemptStarted(
    jobId: string,
    expectedVersion: number,
    attempt: NewAttempt,
  ): Promise<JobRecord> {
    const job = await this.requireJob(jobId, expectedVersion);
    const now = this.clock.now();
    const record: AttemptRecord = AttemptRecordSchema.parse({
      ...attempt,
      jobId,
      outcome: "pending",
      startedAt: now,
    });
    await this.transact(
      [
        {
          Put: {
            TableName: this.table,
            Item: {
              ...attemptKey(jobId, attempt.attempt),
              ...record,
              expiresAt: this.expiresAt(this.retentionS),
            },
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
        this.jobUpdate(jobId, expectedVersion, now, {
          set: ["attempt = :n"],
          values: { ":n": attempt.attempt },
        }),
        this.timelinePut(jobId, {
          at: now,
          version: expectedVersion + 1,
          kind: "attempt",
          reason: `attempt ${attempt.attempt}: renting offer ${attempt.offerId} on machine ${attempt.machineId ?? "?"} at $${attempt.hourlyUsd.toFixed(3)}/h`,
          details: { ...attempt },
        }),
        // One rental at a time: the previous attempt must have ended.
        ...(job.attempt > 0 ? [this.attemptEndedCheck(jobId, job.attempt)] : []),
      ],
      (error) => {
        const failed = failedConditions(error);
        // The attempt already exists or the job moved: a conflict, whatever else failed.
        return failed.includes(3) && !failed.includes(0) && !failed.includes(1)
          ? new AttemptStillOpenError(jobId, job.attempt)
          : new VersionConflictError(jobId, expectedVersion);
      },
    );
    return { ...job, attempt: attempt.attempt, version: expectedVersion + 1, updatedAt: now };
  }

  async recordInstanceId(
    jobId: string,
    attempt: number,
    instanceId: number,
    rentedAt?: number,
  ): Promise<AttemptRecord> {
    const now = rentedAt ?? this.clock.now();
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.table,
                Key: attemptKey(jobId, attempt),
                UpdateExpression: "SET instanceId = :id, outcome = :rented, rentedAt = :now",
                ConditionExpression:
                  "attribute_exists(pk) AND instanceId = :null AND endedAt = :null AND endRequestedAt = :null",
                ExpressionAttributeValues: {
                  ":id": instanceId,
                  ":rented": "rented",
                  ":now": now,
                  ":null": null,
                },
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: { ...instanceKey(instanceId), instanceId, jobId, attempt },
                ConditionExpression: "attribute_not_exists(pk) OR jobId = :job",
                ExpressionAttributeValues: { ":job": jobId },
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const current = await this.getAttempt(jobId, attempt);
      if (current?.instanceId === instanceId) return current;
      if (
        current &&
        current.instanceId === null &&
        (current.endedAt !== null || current.endRequestedAt !== null)
      ) {
        throw new AttemptEndedError(jobId, attempt, instanceId);
      }
      throw new AttemptHoldsOtherInstanceError(jobId, attempt, current?.instanceId ?? null, instanceId);
    }
    const record = await this.getAttempt(jobId, attempt);
    if (!record) throw new JobNotFoundError(jobId);
    return record;
  }

  async updateAttempt(jobId: string, attempt: number, patch: AttemptPatch): Promise<AttemptRecord> {
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined);
    if (entries.length === 0) {
      const current = await this.getAttempt(jobId, attempt);
      if (!current) throw new JobNotFoundError(jobId);
      return current;
    }
    const names: Record<string, string> = {};
    const values: Item = {};
    const sets = entries.map(([k, v], i) => {
      names[`#f${i}`] = k;
      values[`:v${i}`] = v;
      return `#f${i} = :v${i}`;
    });
    values[":null"] = null;
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: attemptKey(jobId, attempt),
          UpdateExpression: `SET ${sets.join(", ")}`,
          // Only an open attempt: an ending, once begun, is not undone by a late write.
          ConditionExpression: "attribute_exists(pk) AND endedAt = :null AND endRequestedAt = :null",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: "ALL_NEW",
        }),
      );
      return AttemptRecordSchema.parse(stripKeys(out.Attributes ?? {}));
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      if (!(await this.getAttempt(jobId, attempt))) throw new JobNotFoundError(jobId);
      throw new AttemptClosedError(jobId, attempt);
    }
  }

  async requestAttemptEnd(
    jobId: string,
    attempt: number,
    intent: AttemptEndIntent,
    at: number,
  ): Promise<AttemptRecord> {
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: attemptKey(jobId, attempt),
          UpdateExpression: "SET endRequestedAt = :at, endIntent = :intent",
          ConditionExpression: "attribute_exists(pk) AND endedAt = :null AND endRequestedAt = :null",
          ExpressionAttributeValues: {
            ":at": at,
            ":intent": AttemptEndIntentSchema.parse(intent),
            ":null": null,
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      return AttemptRecordSchema.parse(stripKeys(out.Attributes ?? {}));
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // Already ending (the first intent stands) or ended.
      const current = await this.getAttempt(jobId, attempt);
      if (!current) throw new JobNotFoundError(jobId);
      return current;
    }
  }

  async markDestroyed(jobId: string, attempt: number, at: number): Promise<AttemptRecord> {
    const current = await this.getAttempt(jobId, attempt);
    if (!current) throw new JobNotFoundError(jobId);
    if (current.destroyedAt !== null || current.instanceId === null) return current;
    const index = unverifiedDestroyIndexKeys(at, jobId, attempt);
    try {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: attemptKey(jobId, attempt),
          UpdateExpression: "SET destroyedAt = :at, gsi1pk = :gpk, gsi1sk = :gsk",
          ConditionExpression: "attribute_exists(pk) AND destroyedAt = :null",
          ExpressionAttributeValues: { ":at": at, ":gpk": index.gsi1pk, ":gsk": index.gsi1sk, ":null": null },
          ReturnValues: "ALL_NEW",
        }),
      );
      return AttemptRecordSchema.parse(stripKeys(out.Attributes ?? {}));
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      return (await this.getAttempt(jobId, attempt)) ?? current;
    }
  }

  async markDestroySent(jobId: string, attempt: number, at: number): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: attemptKey(jobId, attempt),
          UpdateExpression: "SET destroySentAt = :at",
          ConditionExpression: "attribute_exists(pk) AND destroyedAt = :null",
          ExpressionAttributeValues: { ":at": at, ":null": null },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async markDestroyVerified(jobId: string, attempt: number, at: number): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: attemptKey(jobId, attempt),
          UpdateExpression: "SET destroyVerifiedAt = :at REMOVE gsi1pk, gsi1sk",
          ConditionExpression: "attribute_exists(pk) AND destroyVerifiedAt = :null",
          ExpressionAttributeValues: { ":at": at, ":null": null },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async listUnverifiedDestroys(): Promise<UnverifiedDestroy[]> {
    const items = await this.queryAll({
      TableName: this.table,
      IndexName: JOBS_TABLE.stateIndex.name,
      KeyConditionExpression: "gsi1pk = :pk",
      ExpressionAttributeValues: { ":pk": UNVERIFIED_DESTROYS },
    });
    return items.flatMap((item) => {
      const attempt = AttemptRecordSchema.parse(stripKeys(item));
      if (attempt.instanceId === null || attempt.destroyedAt === null) return [];
      return [
        {
          jobId: attempt.jobId,
          attempt: attempt.attempt,
          instanceId: attempt.instanceId,
          destroyedAt: attempt.destroyedAt,
        },
      ];
    });
  }

  async claimReadinessCheck(
    jobId: string,
    attempt: number,
    check: number,
    messageId: string,
    at: number,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: attemptKey(jobId, attempt),
          UpdateExpression: "SET readinessCheck = :n, readinessCheckAt = :at, readinessMessageId = :m",
          ConditionExpression:
            "attribute_exists(pk) AND (readinessCheck < :n OR (readinessCheck = :n AND readinessMessageId = :m))",
          ExpressionAttributeValues: { ":n": check, ":at": at, ":m": messageId },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async chargeStray(charge: StrayCharge): Promise<boolean> {
    for (let conflicts = 0; ; conflicts++) {
      const job = await this.getJob(charge.jobId);
      if (!job) throw new JobNotFoundError(charge.jobId);
      const now = this.clock.now();
      const costUsd = totalOf(charge.cost);
      try {
        await this.transact(
          [
            {
              Put: {
                TableName: this.table,
                Item: {
                  ...strayKey(charge.jobId, charge.instanceId),
                  ...charge,
                  costUsd,
                  expiresAt: this.expiresAt(this.retentionS),
                },
                ConditionExpression: "attribute_not_exists(pk)",
              },
            },
            this.jobUpdate(
              charge.jobId,
              job.version,
              now,
              this.spendChange(charge.cost, isTerminal(job.state)),
            ),
            this.timelinePut(charge.jobId, {
              at: now,
              version: job.version + 1,
              kind: "attempt",
              reason: `stray instance ${charge.instanceId} of attempt ${charge.attempt} destroyed: $${costUsd.toFixed(4)} charged (${charge.reason})`,
              details: { attempt: charge.attempt, instanceId: charge.instanceId, costUsd, cost: charge.cost },
            }),
          ],
          (error) =>
            failedConditions(error).includes(0)
              ? new AttemptAlreadyEnded()
              : new VersionConflictError(charge.jobId, job.version),
        );
        return true;
      } catch (error) {
        if (error instanceof AttemptAlreadyEnded) return false;
        if (!(error instanceof VersionConflictError) || conflicts >= 5) throw error;
      }
    }
  }

  async recordDatasetSummary(
    jobId: string,
    expectedVersion: number,
    summary: DatasetSummary,
  ): Promise<JobRecord> {
    const job = await this.requireJob(jobId, expectedVersion);
    const now = this.clock.now();
    await this.transact(
      [this.jobUpdate(jobId, expectedVersion, now, { set: ["dataset = :d"], values: { ":d": summary } })],
      () => new VersionConflictError(jobId, expectedVersion),
    );
    return { ...job, dataset: summary, version: expectedVersion + 1, updatedAt: now };
  }

  async orphanFirstSeen(instanceId: number, at: number): Promise<number> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...orphanKey(instanceId),
            instanceId,
            firstSeenAt: at,
            expiresAt: this.expiresAt(7 * DAY_S),
          },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return at;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const out = await this.client.send(
        new GetCommand({ TableName: this.table, Key: orphanKey(instanceId), ConsistentRead: true }),
      );
      return Number(out.Item?.firstSeenAt ?? at);
    }
  }

  async pinHostKey(jobId: string, attempt: number, fingerprint: string): Promise<string> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.table,
          Key: attemptKey(jobId, attempt),
          UpdateExpression: "SET hostKeyFingerprint = :fp",
          ConditionExpression:
            "attribute_exists(pk) AND (hostKeyFingerprint = :null OR hostKeyFingerprint = :fp)",
          ExpressionAttributeValues: { ":fp": fingerprint, ":null": null },
        }),
      );
      return fingerprint;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const current = await this.getAttempt(jobId, attempt);
      if (!current?.hostKeyFingerprint) throw new JobNotFoundError(jobId);
      return current.hostKeyFingerprint;
    }
  }

  async getAttempt(jobId: string, attempt: number): Promise<AttemptRecord | null> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.table, Key: attemptKey(jobId, attempt), ConsistentRead: true }),
    );
    return out.Item ? AttemptRecordSchema.parse(stripKeys(out.Item)) : null;
  }

  async getAttempts(keys: readonly AttemptKey[]): Promise<AttemptRecord[]> {
    const items = await this.batchGet(keys.map((k) => attemptKey(k.jobId, k.attempt)));
    return items.map((item) => AttemptRecordSchema.parse(stripKeys(item)));
  }

  async getJobs(jobIds: readonly string[]): Promise<JobRecord[]> {
    const items = await this.batchGet(jobIds.map((id) => jobKey(id)));
    return items.map((item) => JobRecordSchema.parse(stripKeys(item)));
  }

  /** BatchGetItem in chunks of 100 keys (DynamoDB's limit), retrying what comes back unprocessed. */
  private async batchGet(keys: readonly { pk: string; sk: string }[]): Promise<Item[]> {
    const unique = [...new Map(keys.map((k) => [`${k.pk}\u0000${k.sk}`, k])).values()];
    const out: Item[] = [];
    for (let i = 0; i < unique.length; i += 100) {
      let pending: Item[] | undefined = unique.slice(i, i + 100);
      for (let round = 0; pending && pending.length > 0; round++) {
        if (round > 0) await this.clock.sleep(Math.min(1_000, 50 * 2 ** round));
        const response = await this.client.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
        );
        out.push(...(response.Responses?.[this.table] ?? []));
        pending = response.UnprocessedKeys?.[this.table]?.Keys as Item[] | undefined;
      }
    }
    return out;
  }

  private async queryAll(input: ConstructorParameters<typeof QueryCommand>[0]): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await this.client.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  private queryJobItems(jobId: string, prefix: string): Promise<Item[]> {
    return this.queryAll({
      TableName: this.table,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: { ":pk": jobKey(jobId).pk, ":prefix": prefix },
      ConsistentRead: true,
    });
  }

  async listAttempts(jobId: string): Promise<AttemptRecord[]> {
    const items = await this.queryJobItems(jobId, "ATTEMPT#");
    return items.map((item) => AttemptRecordSchema.parse(stripKeys(item)));
  }

  async findJobByInstanceId(instanceId: number): Promise<InstanceOwner | null> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.table, Key: instanceKey(instanceId), ConsistentRead: true }),
    );
    return out.Item ? InstanceOwnerSchema.parse(stripKeys(out.Item)) : null;
  }

  async listActiveJobs(
    state: JobRecord["state"],
    options: { limit?: number; cursor?: string } = {},
  ): Promise<{ jobs: JobRecord[]; cursor: string | null }> {
    if (isTerminal(state)) return { jobs: [], cursor: null };
    return await this.listJobs({ ...options, states: [state], newestFirst: false });
  }

  async listJobs(options: ListJobsOptions = {}): Promise<{ jobs: JobRecord[]; cursor: string | null }> {
    const states = options.states ?? JobStateSchema.options;
    const limit = options.limit ?? 100;
    const position = decodeCursor(
      options.cursor,
      (index) => statePartition(states[index] as JobState),
      states.length,
    );
    const jobs: JobRecord[] = [];
    let { index, key } = position;
    // One state's partition after the other, each a Query on the index; the cursor says which
    // partition and where in it the next page starts.
    while (index < states.length && jobs.length < limit) {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: JOBS_TABLE.stateIndex.name,
          KeyConditionExpression: "gsi1pk = :pk",
          ExpressionAttributeValues: { ":pk": statePartition(states[index] as JobState) },
          ScanIndexForward: !(options.newestFirst ?? true),
          Limit: limit - jobs.length,
          ExclusiveStartKey: key ?? undefined,
        }),
      );
      jobs.push(...(out.Items ?? []).map((item) => JobRecordSchema.parse(stripKeys(item))));
      key = (out.LastEvaluatedKey as Item | undefined) ?? null;
      if (!key) index++;
    }
    const done = index >= states.length;
    return { jobs, cursor: done ? null : encodeCursor({ index, key }) };
  }

  async recordOnce(kind: string, id: string, ttlSeconds: number): Promise<boolean> {
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...onceKey(kind, id), at: this.clock.now(), expiresAt: this.expiresAt(ttlSeconds) },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async forgetOnce(kind: string, id: string): Promise<void> {
    await this.client.send(new DeleteCommand({ TableName: this.table, Key: onceKey(kind, id) }));
  }

  async appendTimeline(jobId: string, entry: NewTimelineEntry): Promise<void> {
    await this.client.send(new PutCommand({ TableName: this.table, Item: this.timelineItem(jobId, entry) }));
  }

  async getTimeline(jobId: string): Promise<TimelineEntry[]> {
    const items = await this.queryJobItems(jobId, "TL#");
    return items.map((item) => TimelineEntrySchema.parse(stripKeys(item)));
  }

  async recordHostFailure(failure: HostFailure): Promise<boolean> {
    const parsed = HostFailureSchema.parse(failure);
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: {
                  ...hostFailureKey(parsed.machineId, parsed.jobId, parsed.attempt),
                  ...hostFailureIndexKeys(parsed.at, parsed.machineId),
                  ...parsed,
                  expiresAt: this.expiresAt(this.retentionS),
                },
                ConditionExpression: "attribute_not_exists(pk)",
              },
            },
            {
              Update: {
                TableName: this.table,
                Key: hostReputationKey(parsed.machineId),
                UpdateExpression: "ADD failures :one SET lastFailureAt = :at, machineId = :m",
                ExpressionAttributeValues: { ":one": 1, ":at": parsed.at, ":m": parsed.machineId },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async recentHostFailures(machineId: number, sinceMs: number): Promise<HostFailure[]> {
    const items = await this.queryAll({
      TableName: this.table,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      FilterExpression: "#at >= :since",
      ExpressionAttributeNames: { "#at": "at" },
      ExpressionAttributeValues: {
        ":pk": hostReputationKey(machineId).pk,
        ":prefix": "FAIL#",
        ":since": sinceMs,
      },
      ConsistentRead: true,
    });
    return items.map((item) => HostFailureSchema.parse(stripKeys(item)));
  }

  async recentlyFailedMachines(sinceMs: number): Promise<Set<number>> {
    const items = await this.queryAll({
      TableName: this.table,
      IndexName: JOBS_TABLE.stateIndex.name,
      KeyConditionExpression: "gsi1pk = :pk AND gsi1sk >= :since",
      ExpressionAttributeValues: { ":pk": "HOSTFAIL", ":since": String(sinceMs).padStart(15, "0") },
    });
    return new Set(items.map((item) => Number(item.machineId)));
  }

  acquireLease(jobId: string, name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.acquire(leaseKey(jobId, name), owner, ttlMs);
  }

  releaseLease(jobId: string, name: string, owner: string): Promise<void> {
    return this.release(leaseKey(jobId, name), owner);
  }

  async getLease(jobId: string, name: string): Promise<LeaseView | null> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.table, Key: leaseKey(jobId, name), ConsistentRead: true }),
    );
    if (!out.Item) return null;
    return { owner: String(out.Item.owner), leaseUntil: Number(out.Item.leaseUntil) };
  }

  acquireSystemLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.acquire(systemLeaseKey(name), owner, ttlMs);
  }

  releaseSystemLease(name: string, owner: string): Promise<void> {
    return this.release(systemLeaseKey(name), owner);
  }

  private async acquire(key: { pk: string; sk: string }, owner: string, ttlMs: number): Promise<boolean> {
    const now = this.clock.now();
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...key,
            owner,
            leaseUntil: now + ttlMs,
            expiresAt: Math.floor((now + ttlMs) / 1000) + DAY_S,
          },
          ConditionExpression: "attribute_not_exists(pk) OR leaseUntil < :now OR #owner = :owner",
          ExpressionAttributeNames: { "#owner": "owner" },
          ExpressionAttributeValues: { ":now": now, ":owner": owner },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  private async release(key: { pk: string; sk: string }, owner: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.table,
          Key: key,
          ConditionExpression: "#owner = :owner",
          ExpressionAttributeNames: { "#owner": "owner" },
          ExpressionAttributeValues: { ":owner": owner },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
}

/** Internal signal: the attempt had already ended when the charge was written. */
class AttemptAlreadyEnded extends Error {}

function totalOf(cost: CostBreakdown): number {
  return cost.gpuUsd + cost.storageUsd + cost.bandwidthUsd;
}

function withSpend(job: JobRecord, cost: CostBreakdown, version: number, now: number): JobRecord {
  const spentUsd = job.spentUsd + totalOf(cost);
  return {
    ...job,
    spentUsd,
    costBreakdown: {
      gpuUsd: job.costBreakdown.gpuUsd + cost.gpuUsd,
      storageUsd: job.costBreakdown.storageUsd + cost.storageUsd,
      bandwidthUsd: job.costBreakdown.bandwidthUsd + cost.bandwidthUsd,
    },
    version,
    updatedAt: now,
    ...(isTerminal(job.state) ? { costUsd: spentUsd } : {}),
  };
}

interface CursorPosition {
  /** Which state's partition. */
  index: number;
  /** Where in it (DynamoDB's LastEvaluatedKey), null at its start. */
  key: Item | null;
}

function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify(position), "utf8").toString("base64url");
}

/** A cursor from a caller: anything this listing would not have handed out is `InvalidCursorError`
 * (a 400, never a DynamoDB error): the partition index in range, the key this index's key shape
 * within that partition. */
function decodeCursor(
  cursor: string | undefined,
  partitionAt: (index: number) => string,
  partitions: number,
): CursorPosition {
  if (cursor === undefined) return { index: 0, key: null };
  try {
    const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as CursorPosition;
    if (!Number.isInteger(parsed.index) || parsed.index < 0 || parsed.index >= partitions)
      throw new InvalidCursorError();
    if (parsed.key === null) return { index: parsed.index, key: null };
    const key = parsed.key as Record<string, unknown>;
    const names = ["pk", "sk", "gsi1pk", "gsi1sk"];
    const shaped =
      typeof key === "object" &&
      !Array.isArray(key) &&
      Object.keys(key).length === names.length &&
      names.every((name) => typeof key[name] === "string") &&
      key.gsi1pk === partitionAt(parsed.index);
    if (shaped) return { index: parsed.index, key: parsed.key };
  } catch {
    // fall through
  }
  throw new InvalidCursorError();
}
