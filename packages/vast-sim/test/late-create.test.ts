import { systemClock } from "@vast-rental/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startVastSim, type VastSim } from "../src/index";
import { cheapestOffer, client, instanceOf, offersOf, type SimClient, startFrozenSim } from "./helpers";

const KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA a@test";
const KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB b@test";
const delays = { provisioningSeconds: 5, loadingSeconds: 10 };

let sim: VastSim;
let vast: SimClient;

beforeAll(async () => {
  ({ sim, vast } = await startFrozenSim({ seed: 7, delays }));
});
beforeEach(() => sim.admin.reset());
afterAll(() => sim.close());

const byLabel = async (label: string) =>
  (await vast.list({ select_filters: { label: { eq: label } } })).json.instances as {
    id: number;
    machine_id: number;
  }[];

describe("late_create", () => {
  it("answers 504 and creates nothing; the instance appears delaySeconds later, as the call asked", async () => {
    await vast.call("POST", "/api/v0/ssh/", { ssh_key: KEY_A });
    const ask = (await cheapestOffer(sim)).id;
    await sim.admin.addFault({ kind: "late_create", delaySeconds: 30 });
    const t0 = sim.admin.now();
    const r = await vast.create(ask, {
      image: "img:1",
      disk: 20,
      label: "late-1",
      env: { A: "1" },
      onstart: "echo hi",
    });
    expect(r.status).toBe(504);
    expect(r.headers.get("content-type")).toContain("text/html");
    expect(r.text).toContain("<title>504 Gateway Time-out</title>");

    // Right after the failed call: nothing anywhere, nothing billed, and the ask is still listed.
    expect(await byLabel("late-1")).toEqual([]);
    expect(sim.admin.instances()).toEqual([]);
    expect(sim.admin.ledger().total.totalMicros).toBe(0);
    expect(offersOf(await vast.search({ id: { eq: ask } }))).toHaveLength(1);
    // A key added after the call does not reach the late instance.
    await vast.call("POST", "/api/v0/ssh/", { ssh_key: KEY_B });

    sim.admin.advance(29);
    expect(await byLabel("late-1")).toEqual([]);
    sim.admin.advance(1);
    const found = await byLabel("late-1");
    expect(found).toHaveLength(1);
    const id = found[0]!.id;
    expect(instanceOf(await vast.show(id))).toMatchObject({
      id,
      label: "late-1",
      image_uuid: "img:1",
      disk_space: 20,
      extra_env: [["A", "1"]],
      onstart: "echo hi",
      actual_status: null,
    });
    const keys = JSON.parse((await vast.call("GET", `/api/v0/instances/${id}/ssh/`)).json.ssh_keys as string);
    expect(keys.map((k: { public_key: string }) => k.public_key)).toEqual([KEY_A]);
    expect(offersOf(await vast.search({ id: { eq: ask } }))).toEqual([]);
    expect(sim.admin.instance(id)).toMatchObject({ offerId: ask, createdAtMs: t0 + 30_000 });

    // Its lifecycle and billing run from the due time, with nobody looking in between.
    sim.admin.advance(100);
    const inst = sim.admin.instance(id)!;
    expect(inst.history.map((h) => [h.actual_status, h.atMs - t0])).toEqual([
      [null, 30_000],
      ["loading", 35_000],
      ["running", 45_000],
    ]);
    expect(inst.ledger.storageSeconds).toBe(100);
    expect(inst.ledger.runningSeconds).toBe(85);
    expect(inst.ledger.storageMicros).toBe(Math.round((100 * inst.ledger.storageDph * 1e6) / 3600));
  });

  it("the ask stays listed meanwhile: renting it too gives two instances on one machine", async () => {
    const ask = (await cheapestOffer(sim)).id;
    await sim.admin.addFault({ kind: "late_create", delaySeconds: 30 });
    expect((await vast.create(ask, { image: "img", disk: 10, label: "late-a" })).status).toBe(504);
    sim.admin.advance(10);
    const retry = await vast.create(ask, { image: "img", disk: 10, label: "retry-a" });
    expect(retry.status).toBe(200);
    sim.admin.advance(20);
    const [late] = await byLabel("late-a");
    const [other] = await byLabel("retry-a");
    expect(late!.machine_id).toBe(other!.machine_id);
    expect(late!.id).toBeGreaterThan(other!.id);
    expect(sim.admin.instance(late!.id)).toMatchObject({ offerId: ask, destroyedAtMs: null });
    expect(sim.admin.instance(other!.id)).toMatchObject({ offerId: ask, destroyedAtMs: null });
  });

  it("a 500 answers Vast's JSON body; offerId limits it to one ask; times counts creates", async () => {
    const [a, b] = offersOf(await vast.search({ order: [["dph_total", "asc"]], limit: 2 })).map((o) => o.id);
    await sim.admin.addFault({ kind: "late_create", status: 500, offerId: a!, times: 2, delaySeconds: 10 });
    const t0 = sim.admin.now();
    expect((await vast.create(b!, { image: "img", disk: 10, label: "other" })).status).toBe(200);
    for (const label of ["x1", "x2"]) {
      const r = await vast.create(a!, { image: "img", disk: 10, label });
      expect(r.status).toBe(500);
      expect(r.json).toEqual({
        success: false,
        error: "server_error",
        msg: "error 500/1000: Internal server error, please try again.",
      });
    }
    const third = await vast.create(a!, { image: "img", disk: 10, label: "x3" });
    expect(third.status).toBe(200);
    expect(await byLabel("x1")).toEqual([]);
    // One step well past the due time: still stamped when due.
    sim.admin.advance(25);
    const [x1] = await byLabel("x1");
    const [x2] = await byLabel("x2");
    // Ids follow the moment each instance came to exist, not the call.
    expect(x1!.id).toBeGreaterThan(third.json.new_contract as number);
    expect(x2!.id).toBeGreaterThan(x1!.id);
    for (const { id } of [x1!, x2!]) {
      const inst = sim.admin.instance(id)!;
      expect(inst.history.map((h) => [h.actual_status, h.atMs - t0])).toEqual([
        [null, 10_000],
        ["loading", 15_000],
        ["running", 25_000],
      ]);
      expect(inst.ledger.storageSeconds).toBe(15);
    }
  });

  it("is stamped at its due time by whatever looks first, not when it looks", async () => {
    type Look = (s: VastSim, v: SimClient, id: number) => Promise<boolean>;
    const looks: Record<string, Look> = {
      show: async (_s, v, id) => (await v.show(id)).json.instances !== null,
      "v1 list": async (_s, v) => ((await v.list()).json.instances as unknown[]).length === 1,
      "admin instances": async (s) => s.admin.instances().length === 1,
      "admin ledger": async (s) => s.admin.ledger().instances.length === 1,
      "admin instance": async (s, _v, id) => s.admin.instance(id) !== null,
    };
    for (const [name, sees] of Object.entries(looks)) {
      let realNow = 1_760_000_000_000;
      const s = await startVastSim({
        ssh: false,
        seed: 7,
        delays,
        timeScale: 1,
        clock: { now: () => realNow, sleep: systemClock.sleep },
      });
      const v = client(s);
      try {
        // Ids start over after a reset: the late instance gets the id this create had.
        const ask = (await cheapestOffer(s)).id;
        const id = (await v.create(ask, { image: "img", disk: 10 })).json.new_contract as number;
        await s.admin.reset();
        await s.admin.addFault({ kind: "late_create", delaySeconds: 30 });
        const t0 = s.admin.now();
        expect((await v.create(ask, { image: "img", disk: 10, label: "late" })).status).toBe(504);
        realNow += 29_000;
        expect(await sees(s, v, id), name).toBe(false);
        realNow += 51_000;
        expect(await sees(s, v, id), name).toBe(true);
        const inst = s.admin.instance(id)!;
        expect(inst.label).toBe("late");
        expect(inst.createdAtMs - t0, name).toBe(30_000);
        expect(inst.history.map((h) => h.atMs - t0)).toEqual([30_000, 35_000, 45_000]);
        expect(inst.ledger.storageSeconds).toBe(50);
        expect(inst.ledger.runningSeconds).toBe(35);
      } finally {
        await s.close();
      }
    }
  });

  it("create_error_after_create with a gateway status answers nginx's page, like http_error", async () => {
    await sim.admin.addFault({ kind: "create_error_after_create", status: 502 });
    const r = await vast.create((await cheapestOffer(sim)).id, { image: "img", disk: 10, label: "ghost" });
    expect(r.status).toBe(502);
    expect(r.text).toContain("<title>502 Bad Gateway</title>");
    expect(await byLabel("ghost")).toHaveLength(1);
  });
});

describe("random late creates", () => {
  it("are seeded: a 504, then the instance after a delay drawn in lateCreateSeconds", async () => {
    const run = async () => {
      const { sim: s, vast: v } = await startFrozenSim({
        seed: 7,
        delays,
        faults: { seed: 5, lateCreate: 1, lateCreateSeconds: [20, 40] },
      });
      try {
        const t0 = s.admin.now();
        const r = await v.create((await cheapestOffer(s)).id, { image: "img", disk: 10, label: "r" });
        const before = s.admin.instances().length;
        s.admin.advance(60);
        return { status: r.status, before, delayMs: s.admin.instances()[0]!.createdAtMs - t0 };
      } finally {
        await s.close();
      }
    };
    const first = await run();
    expect(first.status).toBe(504);
    expect(first.before).toBe(0);
    // Profile seed 5 draws 38 s (whole seconds, within [20, 40]); advancing 60 s in one step
    // still stamps it then.
    expect(first.delayMs).toBe(38_000);
    expect(await run()).toEqual(first);
  });
});
