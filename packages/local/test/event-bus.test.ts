/**
 * The local event bus as EventBridge's clients and targets see it: the AWS SDK's `PutEvents` against
 * its endpoint, targets invoked with EventBridge's event shape, a target that keeps failing tried
 * three times and then dead-lettered (on a real fauxqs queue, as the events subscriber's DLQ is), and
 * entries EventBridge refuses answered per entry without anything delivered.
 */
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { SqsDeadLetters, silentLogger } from "@vast-rental/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../src/aws-identity";
import { type BusEvent, type BusRule, type LocalEventBus, startLocalEventBus } from "../src/event-bus";
import { type LocalAws, startLocalAws } from "../src/fauxqs";

const BUS = "test-bus";
const RETRY_DELAYS_MS = [30, 60];

let aws: LocalAws;
let bus: LocalEventBus | undefined;
let client: EventBridgeClient | undefined;

beforeAll(async () => {
  aws = await startLocalAws({
    port: 0,
    queues: {
      provision: { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 },
      push: { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 },
    },
    buckets: { datasets: "datasets", artifacts: "artifacts" },
  });
});

afterAll(async () => {
  await aws?.stop();
});

afterEach(async () => {
  client?.destroy();
  client = undefined;
  await bus?.stop();
  bus = undefined;
});

/** A bus with `rules`, and the AWS SDK's EventBridge client pointed at it. */
async function start(rules: BusRule[]): Promise<{ bus: LocalEventBus; client: EventBridgeClient }> {
  bus = await startLocalEventBus({
    port: 0,
    busName: BUS,
    rules,
    logger: silentLogger,
    retryDelaysMs: RETRY_DELAYS_MS,
  });
  client = new EventBridgeClient({
    endpoint: bus.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  return { bus, client };
}

/** A rule on one detail type whose target does what `target` says, recording every call. */
function rule(
  name: string,
  detailType: string,
  target: (event: BusEvent, call: number) => Promise<unknown> = async () => undefined,
): BusRule & { calls: { event: BusEvent; at: number }[] } {
  const calls: { event: BusEvent; at: number }[] = [];
  return {
    name,
    calls,
    matches: (e) => e["detail-type"] === detailType,
    target: (event) => {
      calls.push({ event, at: Date.now() });
      return target(event, calls.length);
    },
  };
}

describe("the local event bus", () => {
  it("takes PutEvents from the AWS SDK and invokes the matching rule's target with an EventBridge event", async () => {
    const rental = rule("Rentals", "Rental Requested");
    const other = rule("Others", "Cancel Requested");
    const { bus, client } = await start([rental, other]);
    const time = new Date("2026-11-29T10:00:00.000Z");
    const detail = { gpuType: "RTX 4090", budgetUsd: 5, nested: { list: [1, 2] } };
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: "shop.backend",
            DetailType: "Rental Requested",
            Detail: JSON.stringify(detail),
            EventBusName: BUS,
            Resources: ["arn:aws:s3:::datasets"],
            Time: time,
          },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(0);
    expect(out.Entries).toHaveLength(1);
    const eventId = out.Entries![0]!.EventId!;
    expect(eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    await bus.idle();
    expect(rental.calls).toHaveLength(1);
    expect(other.calls).toHaveLength(0);
    const event = rental.calls[0]!.event;
    // The shape EventBridge hands a Lambda target, key for key.
    expect(event).toEqual({
      version: "0",
      id: eventId,
      "detail-type": "Rental Requested",
      source: "shop.backend",
      account: "000000000000",
      time: time.toISOString(),
      region: "us-east-1",
      resources: ["arn:aws:s3:::datasets"],
      detail,
    });
    expect(bus.events.map((e) => e.id)).toEqual([eventId]);
    expect(bus.deliveries).toEqual([{ rule: "Rentals", eventId, tries: 1, outcome: "delivered" }]);
  });

  it("tries a failing target twice more, then puts the event on the dead-letter queue with the reason", async () => {
    const failing = rule("Commands", "Cancel Requested", async (_event, call) => {
      throw new TypeError(`handler broke on try ${call}`);
    });
    const deadLetters = new SqsDeadLetters({ client: aws.sqs, queueUrl: aws.queues.commandsDlq.url });
    failing.deadLetter = (event, reason) => deadLetters.put(event, reason);
    const { bus, client } = await start([failing]);

    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: "shop.backend",
            DetailType: "Cancel Requested",
            Detail: JSON.stringify({ jobId: "job_1" }),
            EventBusName: BUS,
          },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(0);
    const eventId = out.Entries![0]!.EventId!;
    await bus.idle();

    // One try and two retries, each after its delay.
    expect(failing.calls).toHaveLength(3);
    expect(failing.calls.every((c) => c.event.id === eventId)).toBe(true);
    const gaps = failing.calls.slice(1).map((c, i) => c.at - failing.calls[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(RETRY_DELAYS_MS[0]! - 5);
    expect(gaps[1]).toBeGreaterThanOrEqual(RETRY_DELAYS_MS[1]! - 5);
    expect(bus.deliveries).toEqual([{ rule: "Commands", eventId, tries: 3, outcome: "dead-lettered" }]);

    const received = await aws.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.queues.commandsDlq.url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageAttributeNames: ["All"],
      }),
    );
    expect(received.Messages).toHaveLength(1);
    const message = received.Messages![0]!;
    const body = JSON.parse(message.Body!) as { reason: string; event: BusEvent };
    // The reason is the last try's error.
    expect(body.reason).toBe("TypeError: handler broke on try 3");
    expect(body.event).toMatchObject({
      id: eventId,
      "detail-type": "Cancel Requested",
      detail: { jobId: "job_1" },
    });
    expect(message.MessageAttributes?.reason?.StringValue).toBe("TypeError: handler broke on try 3");
  });

  it("delivers on a retry when the target recovers, and dead-letters nothing", async () => {
    const flaky = rule("Commands", "Cancel Requested", async (_event, call) => {
      if (call === 1) throw new Error("DynamoDB throttled");
    });
    let deadLettered = 0;
    flaky.deadLetter = async () => {
      deadLettered++;
    };
    const { bus, client } = await start([flaky]);
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          { Source: "shop.backend", DetailType: "Cancel Requested", Detail: "{}", EventBusName: BUS },
        ],
      }),
    );
    await bus.idle();
    expect(flaky.calls).toHaveLength(2);
    expect(deadLettered).toBe(0);
    expect(bus.deliveries).toEqual([
      { rule: "Commands", eventId: out.Entries![0]!.EventId, tries: 2, outcome: "delivered" },
    ]);
  });

  it("answers entries EventBridge refuses with per-entry errors and delivers none of them", async () => {
    const anything: BusRule & { calls: unknown[] } = { ...rule("All", ""), matches: () => true };
    const { bus, client } = await start([anything]);
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          { Source: "shop.backend", DetailType: "Rental Requested", Detail: "not json", EventBusName: BUS },
          { Source: "shop.backend", DetailType: "Rental Requested", Detail: "[1, 2]", EventBusName: BUS },
          {
            Source: "shop.backend",
            DetailType: "Rental Requested",
            Detail: "{}",
            EventBusName: "someone-else",
          },
          { DetailType: "Rental Requested", Detail: "{}", EventBusName: BUS },
          { Source: "shop.backend", Detail: "{}", EventBusName: BUS },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(5);
    expect(out.Entries).toEqual([
      { ErrorCode: "InvalidArgument", ErrorMessage: "Detail is not valid JSON" },
      { ErrorCode: "InvalidArgument", ErrorMessage: "Detail must be a JSON object" },
      { ErrorCode: "ResourceNotFoundException", ErrorMessage: "no event bus named someone-else" },
      { ErrorCode: "InvalidArgument", ErrorMessage: "Source is required" },
      { ErrorCode: "InvalidArgument", ErrorMessage: "DetailType is required" },
    ]);
    await bus.idle();
    expect(anything.calls).toEqual([]);
    expect(bus.events).toEqual([]);
    expect(bus.deliveries).toEqual([]);
  });

  it("in a batch, refuses the bad entry and delivers the good one, as EventBridge does", async () => {
    const rental = rule("Rentals", "Rental Requested");
    const { bus, client } = await start([rental]);
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          { Source: "shop.backend", DetailType: "Rental Requested", Detail: "{oops", EventBusName: BUS },
          { Source: "shop.backend", DetailType: "Rental Requested", Detail: '{"n":2}', EventBusName: BUS },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(1);
    expect(out.Entries![0]).toMatchObject({ ErrorCode: "InvalidArgument" });
    expect(out.Entries![0]!.EventId).toBeUndefined();
    await bus.idle();
    expect(rental.calls.map((c) => [c.event.id, c.event.detail])).toEqual([
      [out.Entries![1]!.EventId, { n: 2 }],
    ]);
  });

  it("refuses a request with no entries as a whole, as EventBridge does", async () => {
    const { client } = await start([]);
    await expect(client.send(new PutEventsCommand({ Entries: [] }))).rejects.toMatchObject({
      name: "ValidationException",
    });
  });
});
