/**
 * The exported Lambda `handler` of functions/api.ts, wired from the environment exactly as in AWS
 * (config, secrets from the environment — `API_KEYS`, `SUBMISSION_SECRETS`, `WEBHOOK_SECRETS` —
 * Powertools Logger), against DynamoDB Local and fauxqs, fed API Gateway v2 / Function URL events
 * through `hono/aws-lambda`. Its log output is checked for secrets.
 */
import type { Context } from "aws-lambda";
import type { LambdaEvent } from "hono/aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { signPayload } from "../../packages/core/src/signing";
import { DynamoJobStore } from "../../packages/core/src/store";
import { freePort } from "../support/free-port";
import { sampleJobRequestInput } from "../support/job-request";
import { type Infra, lambdaEnvironment, startInfra } from "../support/provision-harness";
import { generateTestKeyPair } from "../support/ssh-keys";

const API_KEY = "lambda-api-key-0123456789abcdef";
const SHOP_SECRET = "lambda-shop-secret-0123456789abcdef";
const VAST_KEY = "vast-key-lambda-entry-0123456789";

let infra: Infra;
let tableName: string;
const saved = { ...process.env };

beforeAll(async () => {
  infra = await startInfra();
  const environment = await lambdaEnvironment(infra);
  tableName = environment.TABLE_NAME;
  Object.assign(process.env, environment, {
    VASTAI_API_KEY: VAST_KEY,
    // Never contacted by these requests; a closed loopback port if it were.
    VASTAI_BASE_URL: `http://127.0.0.1:${await freePort()}`,
    VASTAI_SSH_PRIVATE_KEY: generateTestKeyPair().private,
    API_KEYS: JSON.stringify({ ops: API_KEY, tiny: "abc123" }),
    SUBMISSION_SECRETS: JSON.stringify({ shop: SHOP_SECRET }),
    WEBHOOK_SECRETS: JSON.stringify({ vast: "whsec-lambda-entry-0123456789" }),
  });
});
afterAll(async () => {
  process.env = saved;
  await infra?.stop();
});

function event(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string; base64?: boolean; query?: string } = {},
): LambdaEvent {
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: options.query ?? "",
    headers: { host: "abc.lambda-url.us-east-1.on.aws", ...options.headers },
    requestContext: {
      accountId: "123456789012",
      apiId: "abc",
      authentication: null,
      authorizer: {},
      domainName: "abc.lambda-url.us-east-1.on.aws",
      domainPrefix: "abc",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "test" },
      requestId: "r1",
      routeKey: "$default",
      stage: "$default",
      time: "",
      timeEpoch: 0,
    },
    isBase64Encoded: options.base64 ?? false,
    body:
      options.body === undefined
        ? null
        : options.base64
          ? Buffer.from(options.body).toString("base64")
          : options.body,
  };
}

const context = { getRemainingTimeInMillis: () => 30_000 } as Context;

describe("functions/api.ts handler", () => {
  it("answers API Gateway v2 events: signed and keyed submissions, refusals as problems, no secret logged", async () => {
    const lines: string[] = [];
    const capture = (...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    };
    const spies = (["log", "info", "warn", "error", "debug"] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation(capture),
    );
    // Powertools writes info to stdout, warnings and errors to stderr.
    const writes = [process.stdout, process.stderr].map((stream) =>
      vi.spyOn(stream, "write").mockImplementation((chunk) => {
        lines.push(String(chunk));
        return true;
      }),
    );
    try {
      const { handler } = await import("../../functions/api");
      const health = await handler(event("GET", "/health"), context);
      expect(health).toMatchObject({ statusCode: 200 });

      // Signed, with the body base64-encoded as a Function URL may deliver it: verified on the bytes.
      const body = JSON.stringify(sampleJobRequestInput({ idempotencyKey: "lambda-1" }));
      const ts = Math.floor(Date.now() / 1000);
      const signed = await handler(
        event("POST", "/v1/jobs", {
          body,
          base64: true,
          headers: {
            "content-type": "application/json",
            "x-vast-rental-timestamp": String(ts),
            "x-vast-rental-signature-256": signPayload(SHOP_SECRET, ts, body),
          },
        }),
        context,
      );
      expect(signed).toMatchObject({ statusCode: 202 });
      const { jobId } = JSON.parse((signed as { body: string }).body);

      const keyed = await handler(
        event("POST", "/v1/jobs", {
          body,
          headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
        }),
        context,
      );
      expect(JSON.parse((keyed as { body: string }).body)).toMatchObject({ jobId, created: false });

      const listed = await handler(
        event("GET", "/v1/jobs", { query: "state=queued", headers: { authorization: `Bearer ${API_KEY}` } }),
        context,
      );
      expect(JSON.parse((listed as { body: string }).body).jobs).toEqual([
        expect.objectContaining({ jobId, state: "queued" }),
      ]);

      // A key too short to be a secret is not one.
      const tiny = await handler(
        event("GET", "/v1/jobs", { headers: { authorization: "Bearer abc123" } }),
        context,
      );
      expect(tiny).toMatchObject({
        statusCode: 401,
        headers: { "content-type": "application/problem+json" },
      });

      const store = new DynamoJobStore({ client: infra.dynamo.doc, tableName });
      expect((await store.getJob(jobId))?.idempotencyKey).toBe("lambda-1");
    } finally {
      for (const spy of spies) spy.mockRestore();
      for (const spy of writes) spy.mockRestore();
    }
    const text = lines.join("\n");
    expect(text).toContain("api: credentials too short to use are ignored");
    expect(text).toContain('"names":["apiKeys.tiny"]');
    for (const secret of [API_KEY, SHOP_SECRET, VAST_KEY, "whsec-lambda-entry-0123456789", "abc123"]) {
      expect(text).not.toContain(secret);
    }
  });
});
