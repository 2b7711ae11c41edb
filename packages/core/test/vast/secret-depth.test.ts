/**
 * The Vast API key echoed at every depth of an error body (nested objects and arrays, inside
 * `msg`/`detail`/`error`, as `Bearer <key>`, as an object key, split across the 500-character
 * cut, already cut short by the server) never reaches an error or a log record: not the key,
 * not any 8-character piece of it. The real client and service talk to a local HTTP server.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SECRET_FRAGMENT_LENGTH, secretFragmentsIn } from "../../../../test/support/secret-scan";
import { createRecordingLogger } from "../../src/observability";
import { NO_RATE_LIMITS, VastAIError, VastAIService } from "../../src/vast";
import { extractErrorMessage } from "../../src/vast/errors";
import { createRedactor } from "../../src/vast/redaction";
import { failure, TEST_API_KEY, testClient } from "./support/fixtures";
import {
  type RecordedRequest,
  type Reply,
  type ScriptedServer,
  startScriptedServer,
} from "./support/scripted-server";

const KEY = TEST_API_KEY;
/** What the client sent, as an echoing server would give it back. */
const bearerOf = (req: RecordedRequest) => String(req.headers.authorization);

/** `levels` nested objects and arrays with the key at the bottom. */
function buried(levels: number, leaf: unknown): unknown {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = i % 2 ? [value, "pad"] : { [`level${i}`]: value, note: "x" };
  return value;
}

/** A JSON body whose nested `msg` is cut at 500 characters in the middle of the key. */
function cutThroughKey(req: RecordedRequest): unknown {
  // `{"pad":"<pad>","key":"<key>"}`: the key starts at 9 + pad + 9; put its middle at 500.
  const pad = "p".repeat(500 - 18 - Math.floor(KEY.length / 2));
  return { success: false, msg: { pad, key: KEY, auth: bearerOf(req) } };
}

const BODIES: [string, (req: RecordedRequest) => Reply][] = [
  [
    "nested msg object, several levels deep, with Bearer and the key as an object key",
    (req) => ({
      status: 400,
      json: {
        success: false,
        error: "invalid_args",
        msg: {
          detail: [{ loc: ["header", "Authorization"], input: bearerOf(req), ctx: buried(6, { key: KEY }) }],
          [KEY]: "the key as a property name",
          list: [[[[[KEY]]]]],
        },
      },
    }),
  ],
  [
    "detail as a list of validation errors echoing the header",
    (req) => ({
      status: 422,
      json: { detail: [{ msg: "bad header", input: { authorization: bearerOf(req) } }] },
    }),
  ],
  [
    "error object under `error`",
    (req) => ({ status: 500, json: { error: { code: "boom", context: buried(12, bearerOf(req)) } } }),
  ],
  [
    "`error` key string carrying the key (vastError)",
    () => ({ status: 403, json: { success: false, error: `auth_error:${KEY}`, msg: "denied" } }),
  ],
  ["the key split across the 500-character cut", (req) => ({ status: 400, json: cutThroughKey(req) })],
  [
    "plain text with the key straddling the cut",
    () => ({ status: 400, text: `${"t".repeat(490)} key=${KEY} and more` }),
  ],
  [
    "a key the server already cut short, and its tail on its own",
    () => ({
      status: 400,
      json: {
        msg: { first: KEY.slice(0, 20), rest: `…${KEY.slice(12)}`, bearer: `Bearer ${KEY.slice(0, 15)}` },
      },
    }),
  ],
  [
    "a 2xx that says success: false",
    (req) => ({ status: 200, json: { success: false, msg: { why: [{ echo: bearerOf(req) }] } } }),
  ],
  [
    "deeper than any redaction walk would go by default",
    (req) => ({ status: 400, json: { msg: buried(40, bearerOf(req)) } }),
  ],
];

let server: ScriptedServer;
beforeAll(async () => {
  server = await startScriptedServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

function echoEverywhere(reply: (req: RecordedRequest) => Reply) {
  for (const method of ["GET", "POST", "PUT", "DELETE"]) server.on(method, /.*/, reply);
}

describe("the key echoed at every depth of a Vast error body", () => {
  it("the bodies do carry the key (so the scans below can fail)", () => {
    const req = { headers: { authorization: `Bearer ${KEY}` } } as unknown as RecordedRequest;
    for (const [name, reply] of BODIES) {
      const { json, text } = reply(req);
      expect(secretFragmentsIn(json ?? text, KEY).length, name).toBeGreaterThan(0);
    }
  });

  it.each(BODIES)("VastAIClient: %s", async (_name, reply) => {
    echoEverywhere(reply);
    const { client, logger } = testClient(server, {
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    });
    const error = await failure(() => client.showInstance(7));
    expect(error).toBeInstanceOf(VastAIError);
    expect((error as Error).message).toMatch(/^Vast GET \/api\/v0\/instances\/7\/: /);
    expect(secretFragmentsIn([error, logger.records], KEY)).toEqual([]);
  });

  it.each(BODIES)("VastAIService (search, create, status): %s", async (_name, reply) => {
    echoEverywhere(reply);
    const logger = createRecordingLogger();
    const vast = new VastAIService({
      apiKey: KEY,
      baseUrl: server.url,
      logger,
      rateLimits: NO_RATE_LIMITS,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
      sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq6xHJOSxvZsVQvHMVYg8m4Hs5V1eRt3Gz9kGK9Rgbq test",
    });
    const errors = [
      await failure(() => vast.searchOffers({ gpuType: "4090", maxHourlyUsd: 1 })),
      await failure(() => vast.provisionInstance({ offerId: 42, jobId: "job-secret", attempt: 1 })),
      await failure(() => vast.getInstanceStatus(7)),
    ];
    for (const error of errors) expect(error).toBeInstanceOf(VastAIError);
    expect(new Set(server.requests.map((r) => `${r.method} ${r.path}`))).toEqual(
      new Set(["POST /api/v0/bundles/", "PUT /api/v0/asks/42/", "GET /api/v0/instances/7/"]),
    );
    expect(secretFragmentsIn([errors, logger.records], KEY)).toEqual([]);
  });
});

describe("extractErrorMessage", () => {
  const redact = createRedactor(KEY);

  it("redacts the whole body before cutting and again after", () => {
    const req = { headers: { authorization: `Bearer ${KEY}` } } as unknown as RecordedRequest;
    const body = cutThroughKey(req);
    // Without the redactor, the cut leaves part of the key: the case exact matching misses.
    const raw = extractErrorMessage(body);
    expect(raw).toHaveLength(500);
    expect(raw).not.toContain(KEY);
    expect(secretFragmentsIn(raw, KEY).length).toBeGreaterThan(0);
    const safe = extractErrorMessage(body, redact);
    expect(secretFragmentsIn(safe, KEY)).toEqual([]);
    expect(safe).toContain("[REDACTED]");
  });

  it("removes any piece of the key as long as the scan looks for, and leaves shorter ones", () => {
    const piece = KEY.slice(5, 5 + SECRET_FRAGMENT_LENGTH);
    expect(redact(`left ${piece} right`)).toBe("left [REDACTED] right");
    const shorter = KEY.slice(5, 5 + SECRET_FRAGMENT_LENGTH - 1);
    expect(redact(`left ${shorter} right`)).toBe(`left ${shorter} right`);
    expect(redact(`Bearer ${KEY}`)).toBe("Bearer [REDACTED]");
    expect(redact(redact(`x ${KEY.slice(3)} y`))).toBe(redact(`x ${KEY.slice(3)} y`));
  });
});
