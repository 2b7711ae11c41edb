/**
 * `POST /v1/webhooks/vast`, verified exactly as docs/vast-quirks.md#notification-webhooks says:
 * signature over `<X-Vast-Timestamp>.<raw body>`, 300 s window, de-duplicated on signed material
 * only, 204, then one `Reconcile Requested` per new event. A bad signature is a 401 that changes
 * nothing.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { signPayload } from "../../src/signing";
import { type ApiHarness, NOW_S, problemOf, useApiHarness, VAST_SECRET, vastHeaders } from "./support";

const api = useApiHarness();
let h: ApiHarness;
beforeEach(() => {
  h = api.current();
});

const notification = (overrides: Record<string, unknown> = {}) =>
  // Vast's own spacing and key order: the signature covers these exact bytes.
  JSON.stringify({
    event_id: "7e9a2c4e6f9e4a24a53b77c2d8e3f0aa",
    user_id: 123,
    notif_type: "outbid",
    subject: "Your instance was outbid",
    message: "instance 42 was outbid",
    timestamp: 1772490000.123,
    ...overrides,
  }).replace(/,"/g, ', "');

const deliver = (body: string | Uint8Array, headers: Record<string, string> = vastHeaders(String(body))) =>
  h.app.request("/v1/webhooks/vast", { method: "POST", headers, body });

describe("POST /v1/webhooks/vast", () => {
  it("answers 204 and asks the poller for a reconcile, once per event id", async () => {
    const body = notification();
    const first = await deliver(body);
    expect(first.status).toBe(204);
    expect(await first.text()).toBe("");
    expect(h.events.of("Reconcile Requested")).toEqual([
      { trigger: "vast-webhook", eventId: "7e9a2c4e6f9e4a24a53b77c2d8e3f0aa", notification: "outbid" },
    ]);
    // Vast retries (a new attempt, signed again): acknowledged, not acted on twice.
    const retry = await deliver(body, {
      ...vastHeaders(body, VAST_SECRET, NOW_S + 30),
      "x-vast-delivery-attempt": "2",
    });
    expect(retry.status).toBe(204);
    // The very same delivery replayed: the same.
    expect((await deliver(body)).status).toBe(204);
    expect(h.events.of("Reconcile Requested")).toHaveLength(1);
    // Another event: another reconcile.
    expect((await deliver(notification({ event_id: "other-event" }))).status).toBe(204);
    expect(h.events.of("Reconcile Requested")).toHaveLength(2);
  });

  it("without a body event_id, de-duplicates on the signed input, never on the unsigned X-Vast-Event-Id", async () => {
    const body = notification({ event_id: undefined });
    const headers = vastHeaders(body);
    expect((await deliver(body, { ...headers, "x-vast-event-id": "header-1" })).status).toBe(204);
    // The captured delivery replayed with a new header id, or none: still the same signed input.
    expect((await deliver(body, { ...headers, "x-vast-event-id": "header-2" })).status).toBe(204);
    expect((await deliver(body, headers)).status).toBe(204);
    expect(h.events.of("Reconcile Requested")).toEqual([
      { trigger: "vast-webhook", eventId: null, notification: "outbid" },
    ]);
    // Signed anew (another timestamp, as Vast signs a retry): other signed input, one more reconcile.
    expect((await deliver(body, vastHeaders(body, VAST_SECRET, NOW_S + 30))).status).toBe(204);
    expect(h.events.of("Reconcile Requested")).toHaveLength(2);
  });

  it("with a body event_id, ignores X-Vast-Event-Id", async () => {
    const body = notification();
    expect((await deliver(body, { ...vastHeaders(body), "x-vast-event-id": "header-1" })).status).toBe(204);
    const other = notification({ message: "another message, the same event id" });
    expect((await deliver(other, { ...vastHeaders(other), "x-vast-event-id": "header-2" })).status).toBe(204);
    expect(h.events.of("Reconcile Requested")).toEqual([
      { trigger: "vast-webhook", eventId: "7e9a2c4e6f9e4a24a53b77c2d8e3f0aa", notification: "outbid" },
    ]);
  });

  it("accepts webhook_test and does nothing with it", async () => {
    expect((await deliver(notification({ notif_type: "webhook_test" }))).status).toBe(204);
    expect(h.events.events).toEqual([]);
    expect(h.writes).toEqual([]);
  });

  it("refuses a bad, stale, missing or re-serialized signature with 401 and changes nothing", async () => {
    const body = notification();
    const reserialized = JSON.stringify(JSON.parse(body));
    const cases: [string, Record<string, string>, string][] = [
      ["wrong secret", vastHeaders(body, "not-the-vast-secret"), "does not match"],
      ["stale", vastHeaders(body, VAST_SECRET, NOW_S - 301), "more than 300 s"],
      ["future", vastHeaders(body, VAST_SECRET, NOW_S + 301), "more than 300 s"],
      ["no signature", { "content-type": "application/json", "x-vast-timestamp": String(NOW_S) }, "send"],
      [
        "signed over re-serialized JSON",
        { ...vastHeaders(body), "x-vast-signature-256": signPayload(VAST_SECRET, NOW_S, reserialized) },
        "does not match",
      ],
      [
        "timestamp not the signed one",
        { ...vastHeaders(body), "x-vast-timestamp": String(NOW_S + 1) },
        "does not match",
      ],
    ];
    for (const [name, headers, reason] of cases) {
      const response = await deliver(body, headers);
      expect(response.status, name).toBe(401);
      const problem = await problemOf(response);
      expect(problem.detail, name).toContain(reason);
      expect(JSON.stringify(problem)).not.toContain(VAST_SECRET);
    }
    expect(h.writes).toEqual([]);
    expect(h.events.events).toEqual([]);
    // The same event, properly signed, is still new.
    expect((await deliver(body)).status).toBe(204);
    expect(h.events.of("Reconcile Requested")).toHaveLength(1);
  });

  it("answers 400 for a signed body that is not a notification, 413 for an oversized one", async () => {
    for (const body of ["not json", JSON.stringify({ event_id: "x" }), "[]"]) {
      const response = await deliver(body);
      expect(response.status, body).toBe(400);
    }
    const big = notification({ message: "x".repeat(70_000) });
    expect((await deliver(big)).status).toBe(413);
    expect(h.writes).toEqual([]);
  });

  it("answers 503 with Retry-After while no webhook secret is configured, so Vast retries instead of dropping", async () => {
    const { app, writes, events } = await api.make({
      credentials: () => ({
        apiKeys: {},
        submissionSecrets: {},
        vastWebhookSecret: null,
        vastWebhookPreviousSecret: null,
      }),
    });
    const body = notification();
    const response = await app.request("/v1/webhooks/vast", {
      method: "POST",
      headers: vastHeaders(body),
      body,
    });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("300");
    const problem = await problemOf(response);
    expect(problem.type).toBe("urn:vast-rental:problem:service-unavailable");
    expect(problem.detail).toContain("no secret to verify");
    expect(writes).toEqual([]);
    expect(events.events).toEqual([]);
  });

  it("accepts a delivery signed with either secret while the secret is rotated", async () => {
    const newSecret = "vast-whsec-new-0123456789abcdef";
    const { app, events } = await api.make({
      credentials: () => ({
        apiKeys: {},
        submissionSecrets: {},
        vastWebhookSecret: newSecret,
        vastWebhookPreviousSecret: VAST_SECRET,
      }),
    });
    const send = (body: string, secret: string) =>
      app.request("/v1/webhooks/vast", { method: "POST", headers: vastHeaders(body, secret), body });
    expect((await send(notification({ event_id: "signed-old" }), VAST_SECRET)).status).toBe(204);
    expect((await send(notification({ event_id: "signed-new" }), newSecret)).status).toBe(204);
    const neither = await send(notification({ event_id: "signed-other" }), "vast-whsec-unknown-0123456789");
    expect(neither.status).toBe(401);
    expect(events.of("Reconcile Requested").map((e) => e.eventId)).toEqual(["signed-old", "signed-new"]);
    // Only the previous secret left (the new one not yet set): still verified, not refused.
    const previousOnly = await api.make({
      credentials: () => ({
        apiKeys: {},
        submissionSecrets: {},
        vastWebhookSecret: null,
        vastWebhookPreviousSecret: VAST_SECRET,
      }),
    });
    const body = notification();
    const response = await previousOnly.app.request("/v1/webhooks/vast", {
      method: "POST",
      headers: vastHeaders(body),
      body,
    });
    expect(response.status).toBe(204);
  });

  it("still answers 204 when the event bus is down (the scheduled poller reconciles anyway)", async () => {
    h.events.publish = async () => {
      throw new Error("EventBridge unreachable");
    };
    expect((await deliver(notification())).status).toBe(204);
  });
});
