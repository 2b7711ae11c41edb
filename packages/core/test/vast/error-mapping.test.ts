import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { errorFromResponse, isVastAIError, VastAIError } from "../../src/vast";
import { extractErrorMessage } from "../../src/vast/errors";
import { failure, testClient } from "./support/fixtures";
import { type Reply, type ScriptedServer, startScriptedServer } from "./support/scripted-server";

let server: ScriptedServer;
beforeAll(async () => {
  server = await startScriptedServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const noRetry = { retry: { maxAttempts: 1 } };

interface Case {
  name: string;
  reply: Reply;
  code: string;
  message?: string;
}

// Against a read endpoint (show): docs/vast-quirks.md#errors.
const readCases: Case[] = [
  {
    name: "401 auth_error",
    reply: { status: 401, json: { success: false, error: "auth_error", msg: "Invalid user key" } },
    code: "auth",
    message: "Invalid user key",
  },
  {
    name: "404 carrying auth_error (search spec)",
    reply: { status: 404, json: { success: false, error: "auth_error", msg: "Invalid user key" } },
    code: "auth",
  },
  {
    name: "403 not_authorized",
    reply: { status: 403, json: { error: "not_authorized", msg: "error 403/3586: not your own" } },
    code: "auth",
  },
  {
    name: "429 plain text",
    reply: { status: 429, text: "API requests too frequent: endpoint threshold=2.0" },
    code: "rate_limited",
    message: "API requests too frequent",
  },
  {
    name: "429 detail body",
    reply: { status: 429, json: { detail: "Too many requests" } },
    code: "rate_limited",
    message: "Too many requests",
  },
  {
    name: "429 rate_limit_exceeded",
    reply: { status: 429, json: { error: "rate_limit_exceeded" } },
    code: "rate_limited",
    message: "rate_limit_exceeded",
  },
  {
    name: "rate_limit_exceeded under another status",
    reply: { status: 400, json: { success: false, error: "rate_limit_exceeded" } },
    code: "rate_limited",
  },
  { name: "429 empty body", reply: { status: 429 }, code: "rate_limited", message: "HTTP 429" },
  {
    name: "400 invalid_args",
    reply: {
      status: 400,
      json: { success: false, error: "invalid_args", msg: "error 400/1782: Invalid args: foo" },
    },
    code: "invalid_request",
    message: "Invalid args: foo",
  },
  {
    name: "400 with message instead of msg",
    reply: { status: 400, json: { message: "bad filter" } },
    code: "invalid_request",
    message: "bad filter",
  },
  {
    name: "400 missing_billing",
    reply: { status: 400, json: { success: false, error: "missing_billing", msg: "add a card" } },
    code: "insufficient_funds",
  },
  {
    name: "402 insufficient credit",
    reply: { status: 402, json: { error: "insufficient_credit", msg: "Insufficient credit" } },
    code: "insufficient_funds",
  },
  {
    name: "404 elsewhere",
    reply: { status: 404, json: { success: false, error: "not_found", msg: "no such thing" } },
    code: "not_found",
  },
  {
    name: "410 deprecated endpoint",
    reply: { status: 410, json: { success: false, error: "deprecated_endpoint", msg: "deprecated" } },
    code: "invalid_request",
  },
  {
    name: "500",
    reply: { status: 500, json: { error: "server_error", msg: "boom" } },
    code: "server",
    message: "boom",
  },
  {
    name: "502 html",
    reply: { status: 502, text: "<html>Bad Gateway</html>" },
    code: "server",
    message: "Bad Gateway",
  },
  {
    name: "200 with success:false",
    reply: { status: 200, json: { success: false, error: "weird", msg: "nope" } },
    code: "unknown",
    message: "nope",
  },
  {
    name: "200 success:false invalid_*",
    reply: { status: 200, json: { success: false, error: "invalid_price" } },
    code: "invalid_request",
  },
  {
    name: "418 other 4xx",
    reply: { status: 418, text: "teapot" },
    code: "invalid_request",
    message: "teapot",
  },
];

describe("error mapping (real HTTP)", () => {
  it.each(readCases)("$name → $code", async ({ reply, code, message }) => {
    server.on("PUT", "/api/v0/instances/9/", reply);
    const { client } = testClient(server, noRetry);
    const error = await failure(() => client.stopInstance(9));
    expect(error).toBeInstanceOf(VastAIError);
    const vast = error as VastAIError;
    expect(vast.code).toBe(code);
    expect(vast.status).toBe(reply.status ?? 200);
    expect(vast.endpoint).toBe("PUT /api/v0/instances/9/");
    expect(vast.ambiguous).toBe(false);
    if (message) expect(vast.message).toContain(message);
  });

  it("only 429/502/503/504 are retryable among HTTP failures", () => {
    const retryable = [400, 401, 404, 429, 500, 502, 503, 504].filter(
      (status) => errorFromResponse({ status, body: null, endpoint: "x", isCreate: false }).retryable,
    );
    expect(retryable).toEqual([429, 502, 503, 504]);
  });

  it("isVastAIError tells our errors apart", () => {
    expect(isVastAIError(new VastAIError({ code: "network", message: "x" }))).toBe(true);
    expect(isVastAIError(new Error("x"))).toBe(false);
  });

  it("keeps Vast's error key", () => {
    const error = errorFromResponse({
      status: 404,
      body: { error: "no_such_instance" },
      endpoint: "x",
      isCreate: false,
    });
    expect(error).toMatchObject({ code: "not_found", vastError: "no_such_instance" });
  });
});

describe("extractErrorMessage", () => {
  it("prefers msg, then message, detail, error, then plain text", () => {
    expect(extractErrorMessage({ msg: "a", message: "b", error: "c" })).toBe("a");
    expect(extractErrorMessage({ message: "b", error: "c" })).toBe("b");
    expect(extractErrorMessage({ detail: "d", error: "c" })).toBe("d");
    expect(extractErrorMessage({ error: "c" })).toBe("c");
    expect(extractErrorMessage("  plain  ")).toBe("plain");
    expect(extractErrorMessage({ detail: [{ loc: ["x"], msg: "bad" }] })).toContain("bad");
    expect(extractErrorMessage({ msg: "   " })).toBeNull();
    expect(extractErrorMessage(null)).toBeNull();
    expect(extractErrorMessage([1, 2])).toBeNull();
    expect(extractErrorMessage("")).toBeNull();
  });
});
