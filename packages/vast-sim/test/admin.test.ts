import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { createRecordingLogger } from "@vast-rental/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signWebhook, startVastSim, type VastSim } from "../src/index";
import { client, offersOf, type SimClient, startFrozenSim } from "./helpers";

let sim: VastSim;
let vast: SimClient;

beforeAll(async () => {
  ({ sim, vast } = await startFrozenSim({ seed: 2, delays: { provisioningSeconds: 5, loadingSeconds: 10 } }));
});
afterAll(() => sim.close());

describe("admin API under /_sim/", () => {
  it("needs the account key", async () => {
    for (const k of [null, "wrong"]) {
      const r = await client(sim, k).call("GET", "/_sim/instances");
      expect(r.status).toBe(401);
      expect(r.json.error).toBe("auth_error");
    }
  });

  it("lists every instance ever created with history and ledger, advances the clock, sets faults, resets", async () => {
    const ask = offersOf(await vast.search({ limit: 1 }))[0]!.id;
    const id = (await vast.create(ask, { image: "img", disk: 10, label: "adm" })).json.new_contract as number;
    const before = (await vast.call("GET", "/_sim/clock")).json.nowMs as number;
    const adv = await vast.call("POST", "/_sim/clock/advance", { seconds: 3600 });
    expect(adv.json.nowMs).toBe(before + 3_600_000);
    await vast.destroy(id);

    const all = await vast.call("GET", "/_sim/instances");
    const entry = (
      all.json.instances as {
        id: number;
        history: { actual_status: string }[];
        ledger: { gpuMicros: number };
      }[]
    ).find((i) => i.id === id)!;
    expect(entry.history.map((h) => h.actual_status)).toEqual([null, "loading", "running", "destroyed"]);
    expect(entry.ledger.gpuMicros).toBeGreaterThan(0);
    const one = await vast.call("GET", `/_sim/instances/${id}`);
    expect(one.json).toMatchObject({ id, label: "adm", actualStatus: "destroyed", vast: null });

    const ledger = await vast.call("GET", "/_sim/ledger");
    expect((ledger.json.total as { totalMicros: number }).totalMicros).toBe(
      (ledger.json.instances as { totalMicros: number }[]).reduce((s, l) => s + l.totalMicros, 0),
    );

    const f = await vast.call("POST", "/_sim/faults", {
      kind: "http_error",
      endpoint: "list",
      status: 503,
      times: 5,
    });
    expect(f.json).toMatchObject({ applied: false });
    expect(((await vast.call("GET", "/_sim/faults")).json.faults as unknown[]).length).toBe(1);
    expect((await vast.list()).status).toBe(503);
    expect((await vast.call("DELETE", `/_sim/faults/${f.json.id}`)).json.success).toBe(true);
    expect((await vast.list()).status).toBe(200);
    expect((await vast.call("POST", "/_sim/faults", { kind: "nonsense" })).status).toBe(400);

    expect((await vast.call("POST", "/_sim/reset")).json.success).toBe(true);
    expect((await vast.call("GET", "/_sim/instances")).json.instances).toEqual([]);
    // After reset the marketplace is the seed's again: the rented ask is back.
    expect(offersOf(await vast.search({ id: { eq: ask } }))).toHaveLength(1);
  });

  it("is not reachable under Vast's paths", async () => {
    expect((await vast.call("GET", "/api/v0/_sim/instances")).status).toBe(404);
  });
});

describe("secret hygiene", () => {
  it("never logs the account key, instance keys or the webhook secret", async () => {
    const logger = createRecordingLogger();
    const s = await startVastSim({
      timeScale: 0,
      logger,
      apiKey: "ACCOUNT-KEY-SECRET-0123456789",
      webhook: {
        url: "http://127.0.0.1:9/unreachable",
        secret: "WEBHOOK-SECRET-XYZ",
        maxAttempts: 1,
        retryDelayMs: 1,
      },
    });
    try {
      const v = client(s);
      const ask = offersOf(await v.search({ limit: 1 }))[0]!.id;
      const created = await v.create(ask, { image: "img", disk: 10, label: "hyg" });
      const instanceKey = created.json.instance_api_key as string;
      await client(s, "WRONG-KEY-SECRET").show(1);
      s.admin.advance(60);
      await s.admin.addFault({ kind: "http_error", endpoint: "show", status: 500 });
      await v.show(created.json.new_contract as number);
      await s.admin.addFault({ kind: "outbid", instanceId: created.json.new_contract as number });
      await new Promise((r) => setTimeout(r, 100));
      await v.destroy(created.json.new_contract as number);
      const logged = JSON.stringify(logger.records);
      expect(logger.records.length).toBeGreaterThan(0);
      for (const secret of [
        "ACCOUNT-KEY-SECRET-0123456789",
        instanceKey,
        "WEBHOOK-SECRET-XYZ",
        "WRONG-KEY-SECRET",
      ]) {
        expect(logged).not.toContain(secret);
      }
    } finally {
      await s.close();
    }
  });
});

describe("notification webhooks", () => {
  it("delivers a signed outbid event as docs/vast-quirks.md#notification-webhooks describes", async () => {
    const received: { headers: IncomingMessage["headers"]; body: string }[] = [];
    const receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => {
        body += d;
      });
      req.on("end", () => {
        received.push({ headers: req.headers, body });
        // First attempt fails with a 503: the simulator retries.
        res.writeHead(received.length === 1 ? 503 : 204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const hooked = await startVastSim({
      ssh: false,
      timeScale: 0,
      webhook: { url, secret: "s3cret", retryDelayMs: 10 },
    });
    try {
      const v = client(hooked);
      const ask = offersOf(await v.search({ limit: 1 }))[0]!.id;
      const id = (await v.create(ask, { image: "img", disk: 10, price: 5 })).json.new_contract as number;
      hooked.admin.advance(60);
      await hooked.admin.addFault({ kind: "outbid", instanceId: id });
      const t0 = Date.now();
      while (received.length < 2 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
      expect(received).toHaveLength(2);
      const [first, second] = received as [(typeof received)[0], (typeof received)[0]];
      expect(second.headers["x-vast-delivery-attempt"]).toBe("2");
      expect(second.headers["x-vast-event-id"]).toBe(first.headers["x-vast-event-id"]);
      const ts = Number(second.headers["x-vast-timestamp"]);
      expect(second.headers["x-vast-signature-256"]).toBe(signWebhook("s3cret", ts, second.body));
      const payload = JSON.parse(second.body) as Record<string, unknown>;
      expect(payload).toMatchObject({ notif_type: "outbid", event_id: first.headers["x-vast-event-id"] });
      expect(Object.keys(payload).sort()).toEqual([
        "event_id",
        "message",
        "notif_type",
        "subject",
        "timestamp",
        "user_id",
      ]);
    } finally {
      await hooked.close();
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  });
});
