/**
 * The event bus, locally: an HTTP endpoint that speaks EventBridge's `PutEvents` (so the real
 * `EventBridgePublisher`, the AWS CLI with `--endpoint-url` and any SDK client work unchanged),
 * and rules that hand matching events to targets the way EventBridge invokes a Lambda: at most
 * once at a time per event, tried again twice on failure, then put on the target's dead-letter
 * queue with the reason. Retries come after 1 s and 2 s here, not minutes as on AWS.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "@vast-rental/core";
import type { EventBridgeEvent } from "aws-lambda";
import { LOCAL_ACCOUNT, LOCAL_REGION } from "./aws-identity";

export type BusEvent = EventBridgeEvent<string, unknown>;

/** A rule and its one target. */
export interface BusRule {
  name: string;
  matches(event: BusEvent): boolean;
  target(event: BusEvent): Promise<unknown>;
  /** Where an event goes when every try failed (the target function's DLQ). */
  deadLetter?(event: BusEvent, reason: string): Promise<void>;
}

export interface LocalEventBus {
  /** The `PutEvents` endpoint (point an EventBridge client's `endpoint` here). */
  endpoint: string;
  /** Every event put, oldest first (the last `keep`). */
  readonly events: readonly BusEvent[];
  /** Every finished hand-over of an event to a rule's target, oldest first (the last `keep`). */
  readonly deliveries: readonly BusDelivery[];
  /** Puts events as `PutEvents` would (returns their ids); rules run in the background. */
  put(entries: PutEventsEntry[]): string[];
  /** Resolves when every rule target started so far has finished (tests use it). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export interface BusDelivery {
  rule: string;
  eventId: string;
  /** Tries made (1 = it worked the first time). */
  tries: number;
  outcome: "delivered" | "dead-lettered";
}

export interface PutEventsEntry {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  EventBusName?: string;
  Resources?: string[];
  Time?: string | number;
}

export interface LocalEventBusOptions {
  port: number;
  busName: string;
  rules: BusRule[];
  logger: Logger;
  /** Events remembered in `events`. Default 1000. */
  keep?: number;
  /** Delays before the second and third try, ms. Default [1000, 2000]. */
  retryDelaysMs?: number[];
}

/** An entry EventBridge would refuse. */
export class InvalidEventError extends Error {
  override readonly name = "InvalidEventError";
}

/** Why EventBridge would refuse an entry, or null. */
function entryProblem(entry: PutEventsEntry): string | null {
  if (!entry.Source) return "Source is required";
  if (!entry.DetailType) return "DetailType is required";
  if (entry.Detail === undefined) return "Detail is required";
  try {
    const detail: unknown = JSON.parse(entry.Detail);
    if (typeof detail !== "object" || detail === null || Array.isArray(detail))
      return "Detail must be a JSON object";
  } catch {
    return "Detail is not valid JSON";
  }
  return null;
}

function eventTime(time: PutEventsEntry["Time"]): string {
  if (time === undefined) return new Date().toISOString();
  // The SDK sends epoch seconds; the CLI may send ISO text.
  const date = typeof time === "number" ? new Date(time * 1000) : new Date(time);
  return Number.isNaN(date.getTime()) ? new Date().toISOString() : date.toISOString();
}

export async function startLocalEventBus(options: LocalEventBusOptions): Promise<LocalEventBus> {
  const keep = options.keep ?? 1000;
  const delays = options.retryDelaysMs ?? [1000, 2000];
  const events: BusEvent[] = [];
  const deliveries: BusDelivery[] = [];
  const remember = <T>(list: T[], item: T) => {
    list.push(item);
    if (list.length > keep) list.splice(0, list.length - keep);
  };
  const running = new Set<Promise<void>>();

  const deliver = async (rule: BusRule, event: BusEvent): Promise<void> => {
    let reason = "";
    for (let tried = 0; tried <= delays.length; tried++) {
      if (tried > 0) await new Promise((r) => setTimeout(r, delays[tried - 1]));
      try {
        await rule.target(event);
        remember(deliveries, { rule: rule.name, eventId: event.id, tries: tried + 1, outcome: "delivered" });
        return;
      } catch (error) {
        reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        options.logger.warn("event target failed", {
          rule: rule.name,
          eventId: event.id,
          tried: tried + 1,
          reason,
        });
      }
    }
    remember(deliveries, {
      rule: rule.name,
      eventId: event.id,
      tries: delays.length + 1,
      outcome: "dead-lettered",
    });
    try {
      await rule.deadLetter?.(event, reason);
    } catch (error) {
      options.logger.error("event lost: its dead-letter queue refused it", {
        rule: rule.name,
        eventId: event.id,
        error: String(error),
      });
    }
  };

  const put = (entries: PutEventsEntry[]): string[] =>
    entries.map((entry) => {
      const problem = entryProblem(entry);
      if (problem) throw new InvalidEventError(problem);
      const event: BusEvent = {
        version: "0",
        id: randomUUID(),
        "detail-type": entry.DetailType ?? "",
        source: entry.Source ?? "",
        account: LOCAL_ACCOUNT,
        time: eventTime(entry.Time),
        region: LOCAL_REGION,
        resources: entry.Resources ?? [],
        detail: JSON.parse(entry.Detail ?? "{}"),
      };
      remember(events, event);
      for (const rule of options.rules) {
        if (!rule.matches(event)) continue;
        const delivery = deliver(rule, event).finally(() => running.delete(delivery));
        running.add(delivery);
      }
      return event.id;
    });

  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/x-amz-json-1.1" }).end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== "POST" || req.headers["x-amz-target"] !== "AWSEvents.PutEvents") {
      return answer(res, 400, {
        __type: "UnknownOperationException",
        message: "this local bus answers only AWSEvents.PutEvents",
      });
    }
    let body: { Entries?: PutEventsEntry[] };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return answer(res, 400, { __type: "SerializationException", message: "the body is not JSON" });
    }
    const entries = Array.isArray(body.Entries) ? body.Entries : [];
    if (entries.length === 0 || entries.length > 10) {
      return answer(res, 400, { __type: "ValidationException", message: "Entries must hold 1 to 10 events" });
    }
    const results = entries.map((entry) => {
      const wrongBus = entry.EventBusName && entry.EventBusName !== options.busName;
      const problem = wrongBus ? `no event bus named ${entry.EventBusName}` : entryProblem(entry);
      if (problem)
        return {
          ErrorCode: wrongBus ? "ResourceNotFoundException" : "InvalidArgument",
          ErrorMessage: problem,
        };
      return { EventId: put([entry])[0] };
    });
    answer(res, 200, {
      FailedEntryCount: results.filter((r) => "ErrorCode" in r).length,
      Entries: results,
    });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error) =>
      answer(res, 500, { __type: "InternalException", message: String(error) }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    events,
    deliveries,
    put,
    async idle() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
