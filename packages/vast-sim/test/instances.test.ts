import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startVastSim, type VastSim } from "../src/index";
import { client, instanceOf, offersOf, type SimClient, startFrozenSim } from "./helpers";

let sim: VastSim;
let vast: SimClient;

beforeAll(async () => {
  ({ sim, vast } = await startFrozenSim({ seed: 3, delays: { provisioningSeconds: 5, loadingSeconds: 20 } }));
});
afterAll(() => sim.close());

async function rentOne(
  gpu = "RTX 3090",
  body: Record<string, unknown> = { image: "pytorch/pytorch:latest", disk: 20 },
) {
  const offer = offersOf(
    await vast.search({ gpu_name: { eq: gpu }, order: [["dph_total", "asc"]], limit: 1 }),
  )[0]!;
  const r = await vast.create(offer.id, body);
  expect(r.status).toBe(200);
  return { offer, id: r.json.new_contract as number, apiKey: r.json.instance_api_key as string };
}

describe("create", () => {
  it("answers {success,new_contract,instance_api_key}, takes the offer, and a second create gets no_such_ask", async () => {
    const offer = offersOf(await vast.search({ order: [["dph_total", "asc"]], limit: 1 }))[0]!;
    const first = await vast.create(offer.id, { image: "vastai/base:latest", disk: 16, label: "job-1" });
    expect(first.status).toBe(200);
    expect(Object.keys(first.json).sort()).toEqual(["instance_api_key", "new_contract", "success"]);
    expect(first.json.success).toBe(true);
    expect(typeof first.json.new_contract).toBe("number");
    expect(first.json.instance_api_key).toMatch(/^[0-9a-f]{64}$/);

    const second = await vast.create(offer.id, { image: "vastai/base:latest", disk: 16 });
    expect(second.status).toBe(404);
    expect(second.json).toEqual({
      success: false,
      error: "no_such_ask",
      msg: `error 404/3603: no_such_ask Instance type by id ${offer.id} is not available.`,
      ask_id: offer.id,
    });
    const gone = await vast.create(offer.id, { image: "vastai/base:latest", disk: 16, cancel_unavail: true });
    expect(gone.status).toBe(410);
    expect(gone.json).toMatchObject({ success: false, error: "no_such_ask", ask_id: offer.id });
    expect(gone.json.msg).toMatch(/^error 410\/3907: /);
    // The taken offer no longer appears in a default search.
    expect(offersOf(await vast.search({ id: { eq: offer.id } }))).toEqual([]);
  });

  it("rejects a body without image, or with disk below 8", async () => {
    const offer = offersOf(await vast.search({ limit: 1 }))[0]!;
    for (const body of [{ disk: 10 }, { image: "x", disk: 4 }]) {
      const r = await vast.create(offer.id, body);
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ success: false, error: "invalid_args" });
    }
  });

  it("accepts env as an object or as the CLI's flag string, and echoes extra_env as pairs", async () => {
    const { id } = await rentOne("RTX 4090", {
      image: "img",
      disk: 10,
      env: "-e FOO=bar -p 8080:8080",
      runtype: "ssh_direct",
    });
    const inst = instanceOf(await vast.show(id));
    expect(inst.extra_env).toEqual([
      ["FOO", "bar"],
      ["-p 8080:8080", "1"],
    ]);
    expect(inst.image_runtype).toBe("ssh_direc ssh_proxy");
  });
});

describe("show", () => {
  it('answers {"instances":{…}} with Vast\'s fields, and {"instances":null} for an unknown id', async () => {
    const { id, offer } = await rentOne();
    const r = await vast.show(id);
    expect(r.status).toBe(200);
    const inst = instanceOf(r);
    expect(inst).toMatchObject({
      id,
      machine_id: offer.machine_id,
      host_id: offer.host_id,
      gpu_name: "RTX 3090",
      num_gpus: offer.num_gpus,
      gpu_ram: offer.gpu_ram,
      gpu_totalram: offer.gpu_total_ram,
      actual_status: null,
      intended_status: "running",
      cur_state: "running",
      image_uuid: "pytorch/pytorch:latest",
      geolocation: offer.geolocation,
      country_code: offer.country_code,
      ssh_host: "127.0.0.1",
      dph_base: offer.dph_base,
      disk_space: 20,
      is_bid: false,
      cuda_max_good: String(offer.cuda_max_good),
    });
    expect(inst.dph_total).toBeCloseTo(
      (offer.dph_base as number) + (20 * (offer.storage_cost as number)) / 720,
      6,
    );
    expect(inst).not.toHaveProperty("ports");
    expect(inst).not.toHaveProperty("reliability");
    expect(typeof inst.ssh_port).toBe("number");

    const missing = await vast.show(999);
    expect(missing.status).toBe(200);
    expect(missing.json).toEqual({ instances: null });
  });
});

describe("list", () => {
  it("answers 410 deprecated_endpoint on the legacy v0 list", async () => {
    const r = await vast.call("GET", "/api/v0/instances/?owner=me");
    expect(r.status).toBe(410);
    expect(r.json).toEqual({
      success: false,
      error: "deprecated_endpoint",
      msg: "/api/v0/instances/ is deprecated. Use /api/v1/instances/ instead.",
    });
  });

  it("pages at most 25 per page with next_token/after_token and filters on label", async () => {
    const own = await startVastSim({ ssh: false, timeScale: 0, seed: 11 });
    try {
      const v = client(own);
      const offers = offersOf(await v.search({ order: [["dph_total", "asc"]], limit: 30 }));
      for (const [i, o] of offers.entries()) {
        expect(
          (await v.create(o.id, { image: "img", disk: 10, label: i % 3 === 0 ? "fizz" : `job-${i}` })).status,
        ).toBe(200);
      }
      const p1 = await v.list({ limit: 100 });
      expect(p1.status).toBe(200);
      expect(Object.keys(p1.json).sort()).toEqual(
        ["instances", "instances_found", "label_counts", "next_token", "success", "total_instances"].sort(),
      );
      expect((p1.json.instances as unknown[]).length).toBe(25);
      expect(p1.json.instances_found).toBe(30);
      expect(p1.json.total_instances).toBe(30);
      expect(typeof p1.json.next_token).toBe("string");
      const p2 = await v.list({ limit: 25, after_token: p1.json.next_token });
      expect((p2.json.instances as unknown[]).length).toBe(5);
      expect(p2.json.next_token).toBeNull();
      const p2b = await v.list({ next_token: p1.json.next_token });
      expect(p2b.json.instances).toEqual(p2.json.instances);
      const ids = [
        ...(p1.json.instances as { id: number }[]),
        ...(p2.json.instances as { id: number }[]),
      ].map((i) => i.id);
      expect(new Set(ids).size).toBe(30);

      const fizz = await v.list({ select_filters: { label: { eq: "fizz" } } });
      expect(fizz.json.instances_found).toBe(10);
      expect((fizz.json.instances as { label: string }[]).every((i) => i.label === "fizz")).toBe(true);
      expect((p1.json.label_counts as Record<string, number>).fizz).toBe(10);

      const computed = await v.list({ select_filters: { dph_total: { lt: 1 } } });
      expect(computed.status).toBe(400);
      expect(computed.json.msg).toBe("dph_total is not a valid search key");
      const badToken = await v.list({ after_token: "nope" });
      expect(badToken.status).toBe(400);
      expect(badToken.json.error).toBe("invalid_token");
    } finally {
      await own.close();
    }
  });
});

describe("manage and destroy", () => {
  it("sets a label, rejects one over 1024 chars, destroys, and a destroyed instance is gone", async () => {
    const { id } = await rentOne();
    const l = await vast.manage(id, { label: "trainer-7" });
    expect(l.json).toEqual({ success: true, msg: `label for ${id} set to 'trainer-7'` });
    expect(instanceOf(await vast.show(id)).label).toBe("trainer-7");
    expect((await vast.manage(id, { label: "x".repeat(1025) })).status).toBe(400);
    const d = await vast.destroy(id);
    expect(d.status).toBe(200);
    expect(d.json.success).toBe(true);
    expect((await vast.show(id)).json).toEqual({ instances: null });
    const again = await vast.destroy(id);
    expect(again.status).toBe(404);
    expect(again.json.error).toBe("no_such_instance");
    expect(sim.admin.instance(id)!.history.at(-1)).toMatchObject({
      actual_status: "destroyed",
      cur_state: "unloaded",
    });
  });

  it("relists the machine under a new ask id after destroy", async () => {
    const { id, offer } = await rentOne("L40S");
    await vast.destroy(id);
    const back = offersOf(await vast.search({ machine_id: { eq: offer.machine_id } }));
    expect(back).toHaveLength(1);
    expect(back[0]!.id).not.toBe(offer.id);
  });
});

describe("auth", () => {
  it("accepts Bearer or api_key=, refuses a wrong or missing key with auth_error", async () => {
    const { id } = await rentOne();
    expect(
      (await client(sim, null).call("GET", `/api/v0/instances/${id}/?api_key=${sim.apiKey}`)).status,
    ).toBe(200);
    for (const r of [await client(sim, "bad-key").show(id), await client(sim, null).show(id)]) {
      expect(r.status).toBe(401);
      expect(r.json).toEqual({ success: false, error: "auth_error", msg: "Invalid user key" });
    }
  });

  it("lets an instance_api_key stop/destroy its own instance only", async () => {
    const a = await rentOne();
    const b = await rentOne();
    const own = client(sim, a.apiKey);
    expect((await own.show(a.id)).status).toBe(401);
    expect((await own.manage(b.id, { state: "stopped" })).status).toBe(401);
    expect((await own.manage(a.id, { state: "stopped" })).status).toBe(200);
    expect((await own.destroy(a.id)).status).toBe(200);
  });
});

describe("ssh keys and logs", () => {
  it("adds account keys (create shape), lists them with key and public_key, deletes them", async () => {
    const pub = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly0000000000000000000000 test@sim";
    const c = await vast.call("POST", "/api/v0/ssh/", { ssh_key: pub });
    expect(c.status).toBe(200);
    const key = (c.json as { key: { id: number; public_key: string; user_id: number; deleted_at: null } })
      .key;
    expect(key).toMatchObject({ public_key: pub, deleted_at: null });
    const list = await vast.call("GET", "/api/v0/ssh/");
    expect(list.json).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: key.id, key: pub, public_key: pub })]),
    );
    expect((await vast.call("POST", "/api/v0/ssh/", { ssh_key: "not a key" })).status).toBe(400);
    // A key on the account at create time reaches the instance; one attached later too.
    const { id } = await rentOne();
    const later = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILaterKeyForTestsOnly000000000000000000000 later@sim";
    const attach = await vast.call("POST", `/api/v0/instances/${id}/ssh/`, { ssh_key: later });
    expect(attach.json.success).toBe(true);
    const shown = await vast.call("GET", `/api/v0/instances/${id}/ssh/`);
    expect(typeof shown.json.ssh_keys).toBe("string");
    const keys = JSON.parse(shown.json.ssh_keys as string) as { public_key: string }[];
    expect(keys.map((k) => k.public_key)).toEqual(expect.arrayContaining([pub, later]));
    expect((await vast.call("DELETE", `/api/v0/ssh/${key.id}/`)).json.success).toBe(true);
    expect((await vast.call("GET", "/api/v0/ssh/")).json).toEqual([]);
  });

  it("serves request_logs at a result_url that 404s for the first polls, then the text", async () => {
    const { id } = await rentOne();
    sim.admin.advance(60);
    const r = await vast.call("PUT", `/api/v0/instances/request_logs/${id}/`, { tail: "1000" });
    expect(r.json).toMatchObject({ success: true });
    const url = r.json.result_url as string;
    expect(url.startsWith(sim.url)).toBe(true);
    expect((await fetch(url)).status).toBe(404);
    expect((await fetch(url)).status).toBe(404);
    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    const text = await ok.text();
    expect(text).toContain("running");
    expect(text).toContain("pytorch/pytorch:latest");
  });
});
