/**
 * The simulator accepts what Vast accepts: every request the official CLI (vast-ai/vast-cli)
 * builds for an endpoint the simulator serves is replayed here, on the wire as the CLI sends it,
 * and must be answered in Vast's shapes.
 *
 * How the CLI talks (vast-ai/vast-cli `vastai/api/client.py`, `VastClient`):
 * - paths get `/api/v0` in front unless they already start with `/api/vN/`;
 * - every call carries the key twice, as `Authorization: Bearer <key>` and as an `api_key=`
 *   query parameter appended after the others;
 * - each query value is sent as-is when it is a string, else as `json.dumps(value)`, then
 *   `quote_plus`-encoded (spaces become `+`);
 * - POST/PUT/DELETE always have a JSON body (`{}` when the call has none), written by Python's
 *   `json.dumps` (`", "`/`": "` separators, floats such as `10.0` keep their `.0`); GET has none.
 *
 * The fixtures below are written from reading that code, not copied from it: each one names the
 * command a user types, the vast-cli files whose code builds the request, and the request itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { VastSim } from "../src/index";
import { type Reply, startFrozenSim, toReply } from "./helpers";

// ---------------------------------------------------------------------------------------------
// Writing requests the way Python's requests + json + urllib do
// ---------------------------------------------------------------------------------------------

/** A Python float: serialised with its decimal point (`10.0`), as `json.dumps` writes it. */
class PyFloat {
  constructor(readonly value: number) {}
}
const float = (n: number) => new PyFloat(n);

/** `json.dumps` with its default separators. */
function pyDumps(v: unknown): string {
  if (v instanceof PyFloat) return Number.isInteger(v.value) ? `${v.value}.0` : String(v.value);
  if (v === null || v === undefined) return "null";
  if (typeof v === "boolean" || typeof v === "number" || typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(pyDumps).join(", ")}]`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${JSON.stringify(k)}: ${pyDumps(x)}`)
    .join(", ")}}`;
}

/** `urllib.parse.quote_plus`. */
function quotePlus(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, "+");
}

interface CliRequest {
  /** What the user typed. */
  command: string;
  /** The vast-cli files (paths in vast-ai/vast-cli) whose code builds this request. */
  source: string[];
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** The path as the CLI hands it to `VastClient` (before `/api/v0` is put in front). */
  path: string;
  /** `query_args`, before `api_key` is added. */
  query?: Record<string, unknown>;
  /** `json_data`; absent means none (POST/PUT/DELETE then send `{}`). */
  body?: unknown;
  /** A few calls (the GPU-name list) go out with no key and no headers at all. */
  anonymous?: boolean;
}

const CLI_USER_AGENT = "vastai-cli/0.0.0";

async function send(sim: VastSim, req: CliRequest): Promise<Reply> {
  const path = /^\/api\/v\d+\//.test(req.path) ? req.path : `/api/v0${req.path}`;
  const args: Record<string, unknown> = { ...(req.query ?? {}) };
  if (!req.anonymous) args.api_key = sim.apiKey;
  const qs = Object.entries(args)
    .map(([k, v]) => `${k}=${quotePlus(typeof v === "string" ? v : pyDumps(v))}`)
    .join("&");
  const headers: Record<string, string> = {};
  if (!req.anonymous) {
    headers["user-agent"] = CLI_USER_AGENT;
    headers.authorization = `Bearer ${sim.apiKey}`;
  }
  const body = req.method === "GET" ? req.body : (req.body ?? {});
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${sim.url}${path}${qs ? `?${qs}` : ""}`, {
    method: req.method,
    headers,
    ...(body === undefined ? {} : { body: pyDumps(body) }),
  });
  return await toReply(res);
}

// ---------------------------------------------------------------------------------------------
// Fixtures: search offers
// ---------------------------------------------------------------------------------------------

const SEARCH_API = "vastai/api/offers.py";
const SEARCH_CMD = "vastai/cli/commands/offers.py";
const QUERY = "vastai/api/query.py";

type Offer = Record<string, unknown> & { id: number };

interface SearchFixture extends CliRequest {
  /** What every answered offer must satisfy (in Vast's units). */
  each: (o: Offer) => boolean;
  /** The order the answer must be in, as [field, direction]. */
  order?: [string, "asc" | "desc"];
  limit?: number;
}

/** The CLI command's defaults (`search__offers`): no `rented` filter, which only the API layer adds. */
const CLI_DEFAULTS = { verified: { eq: true }, external: { eq: false }, rentable: { eq: true } };
const visible = (o: Offer) => o.verified === true && o.external === false && o.rentable === true;

const searchFixtures: SearchFixture[] = [
  {
    command: "VastAI().search_offers() (the SDK's api layer, no query)",
    source: [SEARCH_API],
    method: "POST",
    path: "/bundles/",
    body: {
      verified: { eq: true },
      external: { eq: false },
      rentable: { eq: true },
      rented: { eq: false },
      order: [["score", "desc"]],
      type: "on-demand",
      allocated_storage: float(5),
    },
    each: (o) => visible(o) && o.rented === false,
    order: ["score", "desc"],
  },
  {
    command: "vastai search offers",
    source: [SEARCH_CMD],
    method: "POST",
    path: "/bundles/",
    body: { ...CLI_DEFAULTS, order: [["score", "desc"]], type: "on-demand", allocated_storage: float(5) },
    each: visible,
    order: ["score", "desc"],
  },
  {
    // Numbers typed on the command line travel as strings; `dph` is renamed; `_` becomes a space.
    command: "vastai search offers 'gpu_name=RTX_4090 num_gpus=1 reliability>0.98' -o dph --limit 5",
    source: [SEARCH_CMD, QUERY],
    method: "POST",
    path: "/bundles/",
    body: {
      ...CLI_DEFAULTS,
      gpu_name: { eq: "RTX 4090" },
      num_gpus: { eq: "1" },
      reliability: { gt: "0.98" },
      order: [["dph_total", "asc"]],
      type: "on-demand",
      limit: 5,
      allocated_storage: float(5),
    },
    each: (o) =>
      visible(o) && o.gpu_name === "RTX 4090" && o.num_gpus === 1 && (o.reliability as number) > 0.98,
    order: ["dph_total", "asc"],
    limit: 5,
  },
  {
    // `gpu_ram` and `cpu_ram` are multiplied by 1000 (GB → MB), `duration` by 86400 (days → s).
    command:
      "vastai search offers 'gpu_ram>=24 cpu_ram>32 duration>3 inet_down>200 disk_space>100' --storage 40",
    source: [SEARCH_CMD, QUERY],
    method: "POST",
    path: "/bundles/",
    body: {
      ...CLI_DEFAULTS,
      gpu_ram: { gte: float(24000) },
      cpu_ram: { gt: float(32000) },
      duration: { gt: float(259200) },
      inet_down: { gt: "200" },
      disk_space: { gt: "100" },
      order: [["score", "desc"]],
      type: "on-demand",
      allocated_storage: float(40),
    },
    each: (o) =>
      visible(o) &&
      (o.gpu_ram as number) >= 24000 &&
      (o.cpu_ram as number) > 32000 &&
      (o.duration as number) > 259200 &&
      (o.inet_down as number) > 200 &&
      (o.disk_space as number) > 100,
  },
  {
    // A dotted driver version is sent as a number (535.86.05 → 535086005); `cuda_vers` is renamed.
    command: "vastai search offers 'driver_version >= 550.0.0 cuda_vers>=12.4 direct_port_count>=2'",
    source: [SEARCH_CMD, QUERY],
    method: "POST",
    path: "/bundles/",
    body: {
      ...CLI_DEFAULTS,
      driver_version: { gte: 550000000 },
      cuda_max_good: { gte: "12.4" },
      direct_port_count: { gte: "2" },
      order: [["score", "desc"]],
      type: "on-demand",
      allocated_storage: float(5),
    },
    each: (o) =>
      visible(o) &&
      (o.driver_vers as number) >= 550000000 &&
      (o.cuda_max_good as number) >= 12.4 &&
      (o.direct_port_count as number) >= 2,
  },
  {
    // Lists: quoted names keep their spaces, bare codes stay as typed; two sort keys.
    command:
      "vastai search offers 'gpu_name in [\"RTX 4090\", \"RTX 3090\"] geolocation notin [CN,VN] verified=any' -o 'num_gpus-,dph_total'",
    source: [SEARCH_CMD, QUERY],
    method: "POST",
    path: "/bundles/",
    body: {
      external: { eq: false },
      rentable: { eq: true },
      gpu_name: { in: ["RTX 4090", "RTX 3090"] },
      geolocation: { notin: ["CN", "VN"] },
      order: [
        ["num_gpus", "desc"],
        ["dph_total", "asc"],
      ],
      type: "on-demand",
      allocated_storage: float(5),
    },
    each: (o) =>
      o.external === false &&
      o.rentable === true &&
      ["RTX 4090", "RTX 3090"].includes(o.gpu_name as string) &&
      !["CN", "VN"].includes(o.country_code as string),
    order: ["num_gpus", "desc"],
  },
  {
    command: "vastai search offers 'reliability>0.9 num_gpus>=2 geolocation in [US,DE,SE]'",
    source: [SEARCH_CMD, QUERY],
    method: "POST",
    path: "/bundles/",
    body: {
      ...CLI_DEFAULTS,
      reliability: { gt: "0.9" },
      num_gpus: { gte: "2" },
      geolocation: { in: ["US", "DE", "SE"] },
      order: [["score", "desc"]],
      type: "on-demand",
      allocated_storage: float(5),
    },
    each: (o) =>
      visible(o) &&
      (o.reliability as number) > 0.9 &&
      (o.num_gpus as number) >= 2 &&
      ["US", "DE", "SE"].includes(o.country_code as string),
  },
  {
    // `True`/`true` become JSON booleans, also for flags Vast stores as 0/1 (`has_avx`).
    command:
      "vastai search offers 'compute_cap>=800 total_flops>5 datacenter=True has_avx=true cpu_arch=amd64' -i",
    source: [SEARCH_CMD, QUERY],
    method: "POST",
    path: "/bundles/",
    body: {
      ...CLI_DEFAULTS,
      compute_cap: { gte: "800" },
      total_flops: { gt: "5" },
      datacenter: { eq: true },
      has_avx: { eq: true },
      cpu_arch: { eq: "amd64" },
      order: [["score", "desc"]],
      type: "bid",
      allocated_storage: float(5),
    },
    each: (o) =>
      visible(o) &&
      (o.compute_cap as number) >= 800 &&
      (o.total_flops as number) > 5 &&
      o.datacenter === true &&
      o.is_bid === true,
  },
  {
    command: "vastai search offers -n 'rentable=true num_gpus=1' -r --limit 10",
    source: [SEARCH_CMD, QUERY],
    method: "POST",
    path: "/bundles/",
    body: {
      rentable: { eq: true },
      num_gpus: { eq: "1" },
      order: [["score", "desc"]],
      type: "reserved",
      limit: 10,
      allocated_storage: float(5),
    },
    each: (o) => o.rentable === true && o.num_gpus === 1,
    limit: 10,
  },
  {
    command: "vastai search offers --new 'gpu_name=A100_SXM4'",
    source: [SEARCH_CMD, SEARCH_API],
    method: "PUT",
    path: "/search/asks/",
    body: {
      select_cols: ["*"],
      q: {
        ...CLI_DEFAULTS,
        gpu_name: { eq: "A100 SXM4" },
        order: [["score", "desc"]],
        type: "on-demand",
        allocated_storage: float(5),
      },
    },
    each: (o) => visible(o) && o.gpu_name === "A100 SXM4",
  },
];

// ---------------------------------------------------------------------------------------------
// Fixtures: create instance
// ---------------------------------------------------------------------------------------------

const INSTANCES_API = "vastai/api/instances.py";
const INSTANCES_CMD = "vastai/cli/commands/instances.py";
const PARSE_ENV = "vastai/utils.py";

/**
 * The body `create_instance` always sends, every key present: what the user left out is `null`
 * (`price`, `label`, `extra`, `onstart`, `image_login`, `jupyter_dir`, `template_hash_id`,
 * `user`, and `image` with a template), flags `false`, `disk` the 10.0 default.
 */
function createBody(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    client_id: "me",
    image: null,
    env: {},
    price: null,
    disk: float(10),
    label: null,
    extra: null,
    onstart: null,
    image_login: null,
    python_utf8: false,
    lang_utf8: false,
    use_jupyter_lab: false,
    jupyter_dir: null,
    force: false,
    cancel_unavail: false,
    template_hash_id: null,
    user: null,
    ...overrides,
  };
}

interface CreateFixture {
  command: string;
  source: string[];
  /** Which offer to rent (a GPU model), and the body for it. */
  gpu: string;
  body: (offer: Offer) => Record<string, unknown>;
  /** What `show instance` must echo afterwards. */
  shows: Record<string, unknown>;
}

const createFixtures: CreateFixture[] = [
  {
    command: "vastai create instance ID --image vastai/base:latest",
    source: [INSTANCES_CMD, INSTANCES_API],
    gpu: "RTX 3090",
    body: () => createBody({ image: "vastai/base:latest", runtype: "ssh" }),
    shows: { image_uuid: "vastai/base:latest", label: null, extra_env: [], onstart: null, is_bid: false },
  },
  {
    command:
      "vastai create instance ID --image pytorch/pytorch --disk 40 --env '-p 8081:8081/udp -h billybob' --ssh --direct --onstart-cmd \"env | grep _ >> /etc/environment; echo 'starting up'\" --label cli-ssh",
    source: [INSTANCES_CMD, INSTANCES_API, PARSE_ENV],
    gpu: "RTX 4090",
    body: () =>
      createBody({
        image: "pytorch/pytorch",
        env: { "-p 8081:8081/udp": "1", "-h": "billybob" },
        disk: float(40),
        label: "cli-ssh",
        onstart: "env | grep _ >> /etc/environment; echo 'starting up'",
        runtype: "ssh_direc ssh_proxy",
      }),
    shows: {
      image_uuid: "pytorch/pytorch",
      label: "cli-ssh",
      disk_space: 40,
      image_runtype: "ssh_direc ssh_proxy",
      onstart: "env | grep _ >> /etc/environment; echo 'starting up'",
      extra_env: [
        ["-p 8081:8081/udp", "1"],
        ["-h", "billybob"],
      ],
    },
  },
  {
    command:
      "vastai create instance ID --image bobsrepo/pytorch:latest --login '-u bob -p secret docker.io' --jupyter --direct --jupyter-lab --jupyter-dir /workspace --lang-utf8 --python-utf8 --env '-e TZ=PDT -e XNAME=XX4 -p 22:22 -p 8080:8080' --disk 20",
    source: [INSTANCES_CMD, INSTANCES_API, PARSE_ENV],
    gpu: "RTX A6000",
    body: () =>
      createBody({
        image: "bobsrepo/pytorch:latest",
        env: { TZ: "PDT", XNAME: "XX4", "-p 22:22": "1", "-p 8080:8080": "1" },
        disk: float(20),
        image_login: "-u bob -p secret docker.io",
        python_utf8: true,
        lang_utf8: true,
        use_jupyter_lab: true,
        jupyter_dir: "/workspace",
        runtype: "jupyter_direc ssh_direc ssh_proxy",
      }),
    shows: {
      image_uuid: "bobsrepo/pytorch:latest",
      image_runtype: "jupyter_direc ssh_direc ssh_proxy",
      extra_env: [
        ["TZ", "PDT"],
        ["XNAME", "XX4"],
        ["-p 22:22", "1"],
        ["-p 8080:8080", "1"],
      ],
    },
  },
  {
    // The args launch mode: `--args` swallows the rest of the line as a list.
    command:
      "vastai create instance ID --image pytorch/pytorch --disk 40 --onstart-cmd 'bash' --args -c 'echo hello; sleep infinity;'",
    source: [INSTANCES_CMD, INSTANCES_API],
    gpu: "RTX 3090",
    body: () =>
      createBody({
        image: "pytorch/pytorch",
        disk: float(40),
        onstart: "bash",
        runtype: "args",
        args: ["-c", "echo hello; sleep infinity;"],
      }),
    shows: { image_runtype: "args", image_args: ["-c", "echo hello; sleep infinity;"], onstart: "bash" },
  },
  {
    // From a template: no image, no runtype.
    command:
      "vastai create instance ID --template_hash 661d064bbda1f2a133816b6d55da07c3 --disk 64 --cancel-unavail",
    source: [INSTANCES_CMD, INSTANCES_API],
    gpu: "RTX 4090",
    body: () =>
      createBody({
        template_hash_id: "661d064bbda1f2a133816b6d55da07c3",
        disk: float(64),
        cancel_unavail: true,
      }),
    shows: { disk_space: 64 },
  },
  {
    // Interruptible: a bid at (or above) the offer's minimum.
    command: "vastai create instance ID --image pytorch/pytorch --bid_price <min_bid> --user root",
    source: [INSTANCES_CMD, INSTANCES_API],
    gpu: "RTX 3090",
    body: (offer) =>
      createBody({
        image: "pytorch/pytorch",
        price: float(Math.ceil((offer.min_bid as number) * 1000) / 1000),
        user: "root",
        runtype: "ssh",
      }),
    shows: { is_bid: true },
  },
];

/** Bodies Vast refuses, with the CLI's shape otherwise intact. */
const refusedCreates: { why: string; field: string; body: Record<string, unknown> }[] = [
  { why: "neither an image nor a template", field: "image", body: createBody({ runtype: "ssh" }) },
  {
    why: "a disk below 8 GB",
    field: "disk",
    body: createBody({ image: "pytorch/pytorch", disk: float(4), runtype: "ssh" }),
  },
  {
    why: "a bid above $128/h",
    field: "price",
    body: createBody({ image: "pytorch/pytorch", price: float(500) }),
  },
  {
    why: "a label over 1024 characters",
    field: "label",
    body: createBody({ image: "pytorch/pytorch", label: "x".repeat(1025) }),
  },
  {
    why: "an onstart over 4096 characters",
    field: "onstart",
    body: createBody({ image: "pytorch/pytorch", onstart: "echo hi; ".repeat(500) }),
  },
  { why: "an image that is not a string", field: "image", body: createBody({ image: 42 }) },
  {
    why: "a flag that is not a boolean",
    field: "force",
    body: createBody({ image: "pytorch/pytorch", force: "yes" }),
  },
];

// ---------------------------------------------------------------------------------------------
// The replay
// ---------------------------------------------------------------------------------------------

let sim: VastSim;

beforeAll(async () => {
  ({ sim } = await startFrozenSim({ seed: 11, marketSize: 400 }));
});
afterAll(() => sim.close());

function offersOf(r: Reply): Offer[] {
  return r.json.offers as Offer[];
}

describe("search offers, as the CLI asks", () => {
  it.each(searchFixtures.map((f) => [f.command, f] as const))("%s", async (_, fixture) => {
    const r = await send(sim, fixture);
    expect(r.status, r.text).toBe(200);
    // The CLI refuses any other Content-Type, to the letter.
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(Object.keys(r.json)).toEqual(["offers"]);
    const offers = offersOf(r);
    expect(offers.length).toBeGreaterThan(0);
    for (const offer of offers) {
      expect(offer.ask_contract_id).toBe(offer.id);
      expect(fixture.each(offer), `offer ${offer.id} breaks "${fixture.command}"`).toBe(true);
    }
    if (fixture.limit !== undefined) expect(offers.length).toBeLessThanOrEqual(fixture.limit);
    if (fixture.order) {
      const [field, dir] = fixture.order;
      const values = offers.map((o) => o[field] as number);
      const sorted = [...values].sort((a, b) => (dir === "asc" ? a - b : b - a));
      expect(values).toEqual(sorted);
    }
  });

  it("the numeric driver-version filter leaves out older drivers (not a vacuous match)", async () => {
    const all = sim.admin.offers();
    expect(all.some((o) => o.driver_vers < 550000000 && o.verified && o.rentable)).toBe(true);
  });

  it("the GPU-name list (choices of `vastai launch instance -g`) is fetched with no key and no headers", async () => {
    const r = await send(sim, {
      command: "vastai launch instance -g RTX_4090 ... (choices for --gpu-name)",
      source: ["vastai/cli/util.py"],
      method: "GET",
      path: "/api/v0/gpu_names/unique/",
      anonymous: true,
    });
    expect(r.status).toBe(200);
    expect(r.json.success).toBe(true);
    expect(r.json.gpu_names).toEqual(expect.arrayContaining(["RTX 4090", "A100 SXM4"]));
  });
});

describe("create instance, as the CLI asks", () => {
  async function cheapest(gpu: string): Promise<Offer> {
    const r = await send(sim, {
      command: `vastai search offers 'gpu_name=${gpu.replaceAll(" ", "_")}' -o dph --limit 1`,
      source: [SEARCH_CMD],
      method: "POST",
      path: "/bundles/",
      body: {
        ...CLI_DEFAULTS,
        gpu_name: { eq: gpu },
        order: [["dph_total", "asc"]],
        type: "on-demand",
        limit: 1,
        allocated_storage: float(5),
      },
    });
    const offer = offersOf(r)[0];
    if (!offer) throw new Error(`no ${gpu} offer`);
    return offer;
  }

  it.each(createFixtures.map((f) => [f.command, f] as const))("%s", async (_, fixture) => {
    const offer = await cheapest(fixture.gpu);
    const r = await send(sim, {
      ...fixture,
      method: "PUT",
      path: `/asks/${offer.id}/`,
      body: fixture.body(offer),
    });
    expect(r.status, r.text).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(Object.keys(r.json).sort()).toEqual(["instance_api_key", "new_contract", "success"]);
    expect(r.json.success).toBe(true);
    expect(Number.isInteger(r.json.new_contract)).toBe(true);

    const shown = await send(sim, {
      command: `vastai show instance ${r.json.new_contract}`,
      source: [INSTANCES_CMD, INSTANCES_API],
      method: "GET",
      path: `/instances/${r.json.new_contract}/`,
      query: { owner: "me" },
    });
    expect(shown.status).toBe(200);
    expect(shown.json.instances).toMatchObject({ id: r.json.new_contract, ...fixture.shows });
  });

  it.each(refusedCreates.map((f) => [f.why, f] as const))(
    "refuses %s with 400 invalid_args",
    async (_, fixture) => {
      const offer = await cheapest("RTX 3090");
      const r = await send(sim, {
        command: "vastai create instance ID ...",
        source: [INSTANCES_API],
        method: "PUT",
        path: `/asks/${offer.id}/`,
        body: fixture.body,
      });
      expect(r.status, r.text).toBe(400);
      expect(r.json).toMatchObject({ success: false, error: "invalid_args" });
      expect(r.json.msg).toMatch(new RegExp(`^error 400/1782: Invalid args: ${fixture.field}: `));
      // Nothing was rented.
      expect(
        offersOf(await send(sim, { ...searchFixtures[1]!, body: { id: { eq: offer.id } } })),
      ).toHaveLength(1);
    },
  );
});

describe("managing an instance, as the CLI asks", () => {
  let id: number;
  let second: number;
  const SSH_KEY_FILE =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIClIReplayKeyForTestsOnly00000000000000000 me@laptop\n";

  beforeAll(async () => {
    const rent = async (label: string | null) => {
      const cliDefault = searchFixtures[1]!;
      const listed = await send(sim, { ...cliDefault, body: { ...(cliDefault.body as object), limit: 1 } });
      const offer = offersOf(listed)[0]!;
      const r = await send(sim, {
        command: "vastai create instance ID --image vastai/base:latest --label ...",
        source: [INSTANCES_CMD, INSTANCES_API],
        method: "PUT",
        path: `/asks/${offer.id}/`,
        body: createBody({ image: "vastai/base:latest", label, runtype: "ssh" }),
      });
      expect(r.status, r.text).toBe(200);
      return r.json.new_contract as number;
    };
    id = await rent("cli-job");
    second = await rent(null);
    sim.admin.advance(120);
  });

  it("vastai show instance ID: GET /instances/ID/?owner=me → {instances: {...}}, or {instances: null}", async () => {
    const show = (n: number) =>
      send(sim, {
        command: `vastai show instance ${n}`,
        source: [INSTANCES_CMD, INSTANCES_API],
        method: "GET",
        path: `/instances/${n}/`,
        query: { owner: "me" },
      });
    const r = await show(id);
    expect(r.status).toBe(200);
    expect(r.json.instances).toMatchObject({ id, actual_status: "running", label: "cli-job" });
    // What the CLI reads from the row: start_date to compute duration, extra_env as pairs.
    const row = r.json.instances as Record<string, unknown>;
    expect(typeof row.start_date).toBe("number");
    expect(Array.isArray(row.extra_env)).toBe(true);
    expect((await show(999_999)).json).toEqual({ instances: null });
  });

  it("vastai show instances (table): v1 list with select_filters, order_by, limit 25 and select_cols", async () => {
    const columns = [
      "id",
      "actual_status",
      "label",
      "num_gpus",
      "gpu_name",
      "gpu_util",
      "disk_space",
      "disk_usage",
      "disk_util",
      "volume_info",
      "dph_total",
      "image_uuid",
      "start_date",
      "verification",
    ];
    const r = await send(sim, {
      command: "vastai show instances",
      source: [INSTANCES_CMD, INSTANCES_API],
      method: "GET",
      path: "/api/v1/instances/",
      // The command json.dumps the filters and columns itself; the client passes strings as-is.
      query: {
        select_filters: pyDumps({}),
        order_by: pyDumps([{ col: "id", dir: "asc" }]),
        limit: 25,
        select_cols: pyDumps(columns),
      },
    });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ success: true, total_instances: expect.any(Number), next_token: null });
    const rows = r.json.instances as Record<string, unknown>[];
    expect(rows.map((row) => row.id)).toEqual(expect.arrayContaining([id, second]));
    for (const row of rows) expect(Object.keys(row).sort()).toEqual([...columns].sort());
    expect(r.json.label_counts).toMatchObject({ "cli-job": 1 });
  });

  it("vastai show instances --status running --label '' cli-job --verification verified --order-by 'start_date desc'", async () => {
    const r = await send(sim, {
      command:
        "vastai show instances --status running --label '' cli-job --verification verified --order-by 'start_date desc'",
      source: [INSTANCES_CMD],
      method: "GET",
      path: "/api/v1/instances/",
      query: {
        select_filters: pyDumps({
          actual_status: { in: ["running"] },
          label: { in: [null, "cli-job"] },
          verification: { in: ["verified"] },
        }),
        order_by: pyDumps([
          { col: "start_date", dir: "desc" },
          { col: "id", dir: "asc" },
        ]),
        limit: 25,
        select_cols: pyDumps(["id", "actual_status", "label"]),
      },
    });
    expect(r.status, r.text).toBe(200);
    const rows = r.json.instances as Record<string, unknown>[];
    expect(rows.map((row) => row.id)).toEqual(expect.arrayContaining([id, second]));
    for (const row of rows) {
      expect(row.actual_status).toBe("running");
      expect([null, "cli-job"]).toContain(row.label);
    }
  });

  it("vastai show instances --raw / --limit 1 --next-token T: pages with the token sent bare", async () => {
    // The api layer's show_instances passes dicts (json.dumps'd by the client) and follows next_token.
    const page = (token?: string) =>
      send(sim, {
        command: token
          ? `vastai show instances --limit 1 --next-token ${token}`
          : "vastai show instances --limit 1",
        source: [INSTANCES_CMD, INSTANCES_API],
        method: "GET",
        path: "/api/v1/instances/",
        query: {
          select_filters: {},
          order_by: [{ col: "id", dir: "asc" }],
          limit: 1,
          ...(token ? { after_token: token } : {}),
        },
      });
    const first = await page();
    expect(first.status, first.text).toBe(200);
    expect(first.json.instances as unknown[]).toHaveLength(1);
    const token = first.json.next_token as string;
    expect(typeof token).toBe("string");
    const next = await page(token);
    expect(next.status, next.text).toBe(200);
    const [a] = first.json.instances as { id: number }[];
    const [b] = next.json.instances as { id: number }[];
    expect(b!.id).toBeGreaterThan(a!.id);
  });

  it("vastai label instance ID LABEL: PUT /instances/ID/ {label}", async () => {
    const r = await send(sim, {
      command: `vastai label instance ${second} "training run 7"`,
      source: [INSTANCES_CMD, INSTANCES_API],
      method: "PUT",
      path: `/instances/${second}/`,
      body: { label: "training run 7" },
    });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toEqual({ success: true, msg: `label for ${second} set to 'training run 7'` });
  });

  it("vastai attach ssh ID ~/.ssh/id_ed25519.pub: POST /instances/ID/ssh/ {ssh_key} (file content, newline and all)", async () => {
    const r = await send(sim, {
      command: `vastai attach ssh ${id} ~/.ssh/id_ed25519.pub`,
      source: ["vastai/cli/commands/keys.py", "vastai/api/keys.py", "vastai/cli/util.py"],
      method: "POST",
      path: `/instances/${id}/ssh/`,
      body: { ssh_key: SSH_KEY_FILE },
    });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ success: true, msg: expect.any(String) });
  });

  it("vastai create ssh-key KEY: POST /ssh/ {ssh_key} → {success, key}", async () => {
    const r = await send(sim, {
      command: "vastai create ssh-key ~/.ssh/id_ed25519.pub",
      source: ["vastai/cli/commands/keys.py", "vastai/api/keys.py"],
      method: "POST",
      path: "/ssh/",
      body: { ssh_key: SSH_KEY_FILE },
    });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({
      success: true,
      key: { id: expect.any(Number), public_key: SSH_KEY_FILE.trim() },
    });
  });

  it.each([
    ["vastai logs ID", {}],
    ["vastai logs ID --tail 100", { tail: "100" }],
    [
      "vastai logs ID --filter running --tail 50 --daemon-logs",
      { filter: "running", tail: "50", daemon_logs: "true" },
    ],
  ])(
    "%s: PUT /instances/request_logs/ID/, then GET result_url with no key until 200",
    async (command, body) => {
      const r = await send(sim, {
        command,
        source: ["vastai/cli/commands/misc.py", INSTANCES_API],
        method: "PUT",
        path: `/instances/request_logs/${id}/`,
        body,
      });
      expect(r.status, r.text).toBe(200);
      expect(r.json).toMatchObject({
        success: true,
        result_url: expect.any(String),
        msg: expect.any(String),
      });
      // The CLI polls up to 30 times, with plain requests.get (no key, no headers).
      let text: string | null = null;
      for (let poll = 0; poll < 30 && text === null; poll++) {
        const res = await fetch(r.json.result_url as string);
        if (res.status === 200) text = await res.text();
        else await res.arrayBuffer();
      }
      expect(text).not.toBeNull();
      if ((body as { filter?: string }).filter) {
        for (const line of text!.trim().split("\n")) expect(line).toContain("running");
      }
    },
  );

  it("vastai stop instance ID / vastai start instance ID: PUT /instances/ID/ {state}", async () => {
    const manage = (state: string) =>
      send(sim, {
        command: `vastai ${state === "stopped" ? "stop" : "start"} instance ${id}`,
        source: [INSTANCES_CMD, INSTANCES_API],
        method: "PUT",
        path: `/instances/${id}/`,
        body: { state },
      });
    const stop = await manage("stopped");
    expect(stop.status, stop.text).toBe(200);
    expect(stop.json).toEqual({ success: true });
    const start = await manage("running");
    expect(start.status, start.text).toBe(200);
    expect(start.json).toEqual({ success: true });
  });

  it("vastai stop instances A B / vastai start instances A B: PUT /instances/ {state, ids}", async () => {
    for (const state of ["stopped", "running"]) {
      const r = await send(sim, {
        command: `vastai ${state === "stopped" ? "stop" : "start"} instances ${id} ${second}`,
        source: [INSTANCES_CMD, INSTANCES_API],
        method: "PUT",
        path: "/instances/",
        body: { state, ids: [id, second] },
      });
      expect(r.status, r.text).toBe(200);
      expect(r.json).toEqual({ success: true });
    }
  });

  it("vastai destroy instance ID -y: DELETE /instances/ID/ {}; vastai destroy instances: DELETE /instances/ {instance_ids}", async () => {
    const one = await send(sim, {
      command: `vastai destroy instance ${id} -y`,
      source: [INSTANCES_CMD, INSTANCES_API],
      method: "DELETE",
      path: `/instances/${id}/`,
    });
    expect(one.status, one.text).toBe(200);
    expect(one.json.success).toBe(true);
    const bulk = await send(sim, {
      command: `vastai destroy instances ${second} -y`,
      source: [INSTANCES_CMD, INSTANCES_API],
      method: "DELETE",
      path: "/instances/",
      body: { instance_ids: [second] },
    });
    expect(bulk.status, bulk.text).toBe(200);
    expect(bulk.json.success).toBe(true);
    sim.admin.advance(60);
    for (const gone of [id, second]) {
      const r = await send(sim, {
        command: `vastai show instance ${gone}`,
        source: [INSTANCES_API],
        method: "GET",
        path: `/instances/${gone}/`,
        query: { owner: "me" },
      });
      expect(r.json).toEqual({ instances: null });
    }
  });
});
