/**
 * `JobStore` on one DynamoDB table (see `table-definition.ts` and `keys.ts`). Every write that
 * changes a job is conditional on its version, and multi-item changes (a transition and its
 * timeline entry, a job and its idempotency record) are single transactions.
 */
import { randomBytes } from "node:crypto";
import type { NativeAttributeValue } from "@aws-sdk/lib-dynamodb";
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { type Clock, systemClock } from "../clock";
import { isTerminal, type JobEvent, nextState } from "../jobs/state-machine";
import { IdempotencyConflictError, JobNotFoundError, VersionConflictError } from "./errors";
import type { AttemptEnd, EndedAttemptResult, JobStore, NewJob, TransitionOptions } from "./job-store";
import {
  attemptKey,
  hostFailureIndexKeys,
  hostFailureKey,
  hostReputationKey,
  idempotencyKeyItem,
  instanceKey,
  jobKey,
  leaseKey,
  stateIndexKeys,
  timelineKey,
} from "./keys";
import {
  type AttemptPatch,
  type AttemptRecord,
  AttemptRecordSchema,
  type HostFailure,
  HostFailureSchema,
  type InstanceOwner,
  InstanceOwnerSchema,
  type JobRecord,
  JobRecordSchema,
  type NewAttempt,
  type NewTimelineEntry,
  type TimelineEntry,
  TimelineEntrySchema,
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
      await this.client.send(new TransactWriteCommand({ TransactItems: items }));
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
    const addSpent = options.addSpentUsd ?? 0;
    const values: Item = { ":to": to, ":reason": event.reason, ":spent": addSpent };
    const set = ["#state = :to", "reason = :reason", "spentUsd = spentUsd + :spent"];
    const remove: string[] = [];
    const terminal = isTerminal(to);
    const artifact = to === "succeeded" ? (options.artifact ?? null) : null;
    if (terminal) {
      // The job's result is written by the same conditional write that ends it.
      set.push("costUsd = spentUsd + :spent", "endedAt = :now", "artifact = :artifact", "expiresAt = :ttl");
      remove.push("gsi1pk", "gsi1sk");
      values[":ttl"] = this.expiresAt(this.retentionS);
      values[":artifact"] = artifact;
    } else {
      const index = stateIndexKeys(to, job.createdAt, jobId);
      set.push("gsi1pk = :gpk", "gsi1sk = :gsk");
      values[":gpk"] = index.gsi1pk;
      values[":gsk"] = index.gsi1sk;
    }
    await this.transact(
      [
        this.jobUpdate(jobId, expectedVersion, now, { set, remove, values, names: { "#state": "state" } }),
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
      ],
      () => new VersionConflictError(jobId, expectedVersion),
    );
    const spentUsd = job.spentUsd + addSpent;
    return {
      ...job,
      state: to,
      version: expectedVersion + 1,
      updatedAt: now,
      reason: event.reason,
      spentUsd,
      ...(terminal ? { costUsd: spentUsd, endedAt: now, artifact } : {}),
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
    const now = this.clock.now();
    const terminal = isTerminal(job.state);
    const ended: AttemptRecord = {
      ...current,
      outcome: end.outcome,
      endedAt: end.endedAt,
      costUsd: end.costUsd,
      failureReason: end.failureReason ?? current.failureReason,
    };
    try {
      await this.transact(
        [
          {
            Update: {
              TableName: this.table,
              Key: attemptKey(jobId, attempt),
              UpdateExpression: "SET outcome = :o, endedAt = :e, costUsd = :c, failureReason = :r",
              // Ended once: a redelivery finds endedAt set and charges nothing.
              ConditionExpression: "attribute_exists(pk) AND endedAt = :null",
              ExpressionAttributeValues: {
                ":o": ended.outcome,
                ":e": ended.endedAt,
                ":c": ended.costUsd,
                ":r": ended.failureReason,
                ":null": null,
              },
            },
          },
          this.jobUpdate(jobId, expectedVersion, now, {
            // A job that already ended keeps its final cost complete.
            set: ["spentUsd = spentUsd + :c", ...(terminal ? ["costUsd = spentUsd + :c"] : [])],
            values: { ":c": end.costUsd },
          }),
          this.timelinePut(jobId, {
            at: now,
            version: expectedVersion + 1,
            kind: "attempt",
            reason: `attempt ${attempt} ended (${end.outcome}): $${end.costUsd.toFixed(4)} charged`,
            details: { attempt, outcome: end.outcome, costUsd: end.costUsd, endedAt: end.endedAt },
          }),
        ],
        (error) =>
          failedConditions(error).includes(1) || !failedConditions(error).includes(0)
            ? new VersionConflictError(jobId, expectedVersion)
            : new AttemptAlreadyEnded(),
      );
    } catch (error) {
      if (!(error instanceof AttemptAlreadyEnded)) throw error;
      // A concurrent writer ended it first (and charged it).
      const latest = (await this.getJob(jobId)) ?? job;
      return { job: latest, attempt: (await this.getAttempt(jobId, attempt)) ?? current, charged: false };
    }
    const spentUsd = job.spentUsd + end.costUsd;
    return {
      job: {
        ...job,
        spentUsd,
        version: expectedVersion + 1,
        updatedAt: now,
        ...(terminal ? { costUsd: spentUsd } : {}),
      },
      attempt: ended,
      charged: true,
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
      ],
      () => new VersionConflictError(jobId, expectedVersion),
    );
    return { ...job, attempt: attempt.attempt, version: expectedVersion + 1, updatedAt: now };
  }

  async recordInstanceId(jobId: string, attempt: number, instanceId: number): Promise<AttemptRecord> {
    const now = this.clock.now();
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.table,
                Key: attemptKey(jobId, attempt),
                UpdateExpression: "SET instanceId = :id, outcome = :rented, rentedAt = :now",
                ConditionExpression: "attribute_exists(pk) AND instanceId = :null",
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
      throw new Error(
        `attempt ${attempt} of job ${jobId} already holds instance ${current?.instanceId ?? "?"}; refusing ${instanceId}`,
      );
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
    const out = await this.client.send(
      new UpdateCommand({
        TableName: this.table,
        Key: attemptKey(jobId, attempt),
        UpdateExpression: `SET ${sets.join(", ")}`,
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: "ALL_NEW",
      }),
    );
    return AttemptRecordSchema.parse(stripKeys(out.Attributes ?? {}));
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
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: JOBS_TABLE.stateIndex.name,
        KeyConditionExpression: "gsi1pk = :pk",
        ExpressionAttributeValues: { ":pk": `STATE#${state}` },
        Limit: options.limit ?? 100,
        ExclusiveStartKey: options.cursor
          ? (JSON.parse(Buffer.from(options.cursor, "base64url").toString("utf8")) as Item)
          : undefined,
      }),
    );
    return {
      jobs: (out.Items ?? []).map((item) => JobRecordSchema.parse(stripKeys(item))),
      cursor: out.LastEvaluatedKey
        ? Buffer.from(JSON.stringify(out.LastEvaluatedKey), "utf8").toString("base64url")
        : null,
    };
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

  async acquireLease(jobId: string, name: string, owner: string, ttlMs: number): Promise<boolean> {
    const now = this.clock.now();
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...leaseKey(jobId, name),
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

  async releaseLease(jobId: string, name: string, owner: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.table,
          Key: leaseKey(jobId, name),
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
