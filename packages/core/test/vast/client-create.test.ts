import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { VastAIError } from "../../src/vast";
import { failure, testClient } from "./support/fixtures";
import { type ScriptedServer, startScriptedServer } from "./support/scripted-server";

let server: ScriptedServer;
beforeAll(async () => {
  server = await startScriptedServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const ASK = "/api/v0/asks/555/";
const body = { client_id: "me", image: "img", disk: 20, label: "vast-rental:j1:1" };
// Generous retries: a create must still be sent once.
const eager = { retry: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 1 } };

describe("createInstance", () => {
  it("returns the new_contract id and sends the body as JSON", async () => {
    server.on("PUT", ASK, { json: { success: true, new_contract: 9001, instance_api_key: "abc" } });
    const { client } = testClient(server);
    await expect(client.createInstance(555, body)).resolves.toEqual({ instanceId: 9001 });
    expect(server.hits("PUT", ASK)[0]?.body).toEqual(body);
  });

  it("accepts a numeric-string new_contract", async () => {
    server.on("PUT", ASK, { json: { success: true, new_contract: " 9002 " } });
    const { client } = testClient(server);
    await expect(client.createInstance(555, body)).resolves.toEqual({ instanceId: 9002 });
  });

  it.each([500, 502, 503, 504])("is sent exactly once on a %i and the error is ambiguous", async (status) => {
    server.on("PUT", ASK, { status, json: { error: "server_error", msg: "oops" } });
    const { client } = testClient(server, eager);
    const error = await failure(() => client.createInstance(555, body));
    expect(error).toMatchObject({
      code: "server",
      status,
      ambiguous: true,
      retryable: false,
      instanceId: null,
    });
    expect(server.hits("PUT", ASK)).toHaveLength(1);
  });

  it("is sent exactly once on a timeout and the error is ambiguous", async () => {
    server.on("PUT", ASK, { hang: true });
    const { client } = testClient(server, { ...eager, timeoutMs: 60 });
    const error = await failure(() => client.createInstance(555, body));
    expect(error).toMatchObject({ code: "timeout", ambiguous: true, retryable: false });
    expect(server.hits("PUT", ASK)).toHaveLength(1);
  });

  it("is sent exactly once on a dropped connection and the error is ambiguous", async () => {
    server.on("PUT", ASK, { drop: true });
    const { client } = testClient(server, eager);
    const error = await failure(() => client.createInstance(555, body));
    expect(error).toMatchObject({ code: "network", ambiguous: true });
    expect(server.hits("PUT", ASK)).toHaveLength(1);
  });

  it("a caller abort after sending is ambiguous", async () => {
    const controller = new AbortController();
    server.on("PUT", ASK, () => {
      controller.abort();
      return { hang: true };
    });
    const { client } = testClient(server, eager);
    const error = await failure(() => client.createInstance(555, body, { signal: controller.signal }));
    expect(error).toMatchObject({ ambiguous: true });
    expect(server.hits("PUT", ASK)).toHaveLength(1);
  });

  it("is not retried on 429 either, and a 429 is not ambiguous", async () => {
    server.on("PUT", ASK, { status: 429, text: "API requests too frequent" });
    const { client } = testClient(server, eager);
    const error = await failure(() => client.createInstance(555, body));
    expect(error).toMatchObject({ code: "rate_limited", ambiguous: false });
    expect(server.hits("PUT", ASK)).toHaveLength(1);
  });

  it.each([
    [
      404,
      {
        success: false,
        error: "invalid_args",
        msg: "error 404/3603: no_such_ask Instance type by id 555 is not available.",
      },
    ],
    [410, { success: false, error: "no_such_ask", msg: "error 410/3907: 555 is no longer available." }],
    [404, { error: "not_found" }],
  ])("maps %i offer-gone replies to offer_unavailable, not ambiguous", async (status, reply) => {
    server.on("PUT", ASK, { status, json: reply });
    const { client } = testClient(server, eager);
    const error = await failure(() => client.createInstance(555, body));
    expect(error).toMatchObject({ code: "offer_unavailable", status, ambiguous: false });
  });

  it("400 invalid_args is invalid_request, not ambiguous", async () => {
    server.on("PUT", ASK, {
      status: 400,
      json: { success: false, error: "invalid_args", msg: "disk too small" },
    });
    const { client } = testClient(server, eager);
    await expect(client.createInstance(555, body)).rejects.toMatchObject({
      code: "invalid_request",
      ambiguous: false,
    });
  });

  it("a refusal that still returns new_contract carries the instance id (too-low bid → stopped instance)", async () => {
    server.on("PUT", ASK, {
      json: { success: false, error: "invalid_price", msg: "bid too low", new_contract: 4242 },
    });
    const { client } = testClient(server, eager);
    const error = await failure(() => client.createInstance(555, body));
    expect(error).toBeInstanceOf(VastAIError);
    expect(error).toMatchObject({ instanceId: 4242, ambiguous: false, code: "invalid_request" });
    expect(server.hits("PUT", ASK)).toHaveLength(1);
  });

  it("a 5xx that names its new_contract is not ambiguous: the instance is known", async () => {
    server.on("PUT", ASK, { status: 500, json: { error: "partial", new_contract: 77 } });
    const { client } = testClient(server, eager);
    await expect(client.createInstance(555, body)).rejects.toMatchObject({
      instanceId: 77,
      ambiguous: false,
    });
  });

  it("success without new_contract is ambiguous (something may be billing)", async () => {
    server.on("PUT", ASK, { json: { success: true } });
    const { client } = testClient(server, eager);
    await expect(client.createInstance(555, body)).rejects.toMatchObject({
      ambiguous: true,
      code: "unknown",
    });
    expect(server.hits("PUT", ASK)).toHaveLength(1);
  });

  it("rejects a bad offer id before any request", async () => {
    const { client } = testClient(server);
    await expect(client.createInstance(-1, body)).rejects.toMatchObject({ code: "invalid_request" });
    await expect(client.createInstance(1.5, body)).rejects.toMatchObject({ code: "invalid_request" });
    expect(server.requests).toHaveLength(0);
  });
});
