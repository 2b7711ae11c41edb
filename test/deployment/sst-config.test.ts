/**
 * `sst.config.ts` as SST runs it, with SST's components replaced by recorders: `sst deploy` needs
 * AWS, but what the config asks SST to create can be read offline. Checks that every number
 * comes from packages/core/src/deployment, that each function gets exactly the access
 * FUNCTION_ACCESS gives it (and no `link`), and that names reach the functions through their
 * environment. `npm run check` type-checks the same file against SST's real component types.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  ACCESS,
  type Access,
  BUNDLE_COPY_FILES,
  DEPLOYMENT,
  type DeployedFunction,
  FUNCTION_ACCESS,
  MAX_DELIVERIES,
} from "@vast-rental/core";
import { build } from "esbuild";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";

const root = join(import.meta.dirname, "..", "..");

interface Recorded {
  kind: string;
  name: string;
  args: Record<string, unknown>;
  /** For subscriptions: what subscribes (function arguments or a Function) and how. */
  subscriber?: unknown;
  options?: Record<string, unknown>;
}

/** Fake SST globals that record every component the config creates. */
function fakeSst(records: Recorded[]) {
  const resource = (kind: string, name: string, args: Record<string, unknown> = {}) => {
    const record: Recorded = { kind, name, args };
    records.push(record);
    return {
      __record: record,
      name: `${name}-name`,
      id: `${name}-id`,
      arn: `arn:${kind}:${name}`,
      url: `https://${name}.example`,
    };
  };
  class Queue {
    constructor(name: string, args: Record<string, unknown>) {
      Object.assign(this, resource("queue", name, args));
    }
    subscribe(subscriber: unknown, options: Record<string, unknown>) {
      const self = this as unknown as { __record: Recorded };
      records.push({ kind: "queue-subscriber", name: self.__record.name, args: {}, subscriber, options });
    }
  }
  class Bus {
    constructor(name: string, args: Record<string, unknown>) {
      Object.assign(this, resource("bus", name, args));
    }
    subscribe(name: string, subscriber: unknown, options: Record<string, unknown>) {
      records.push({ kind: "bus-subscriber", name, args: {}, subscriber, options });
    }
  }
  const simple = (kind: string) =>
    class {
      constructor(name: string, args: Record<string, unknown>) {
        Object.assign(this, resource(kind, name, args));
      }
    };
  return {
    $config: (config: unknown) => config,
    $interpolate: (strings: TemplateStringsArray, ...values: unknown[]) =>
      strings.reduce((out, s, i) => out + s + (i < values.length ? String(values[i]) : ""), ""),
    sst: {
      aws: {
        Dynamo: simple("dynamo"),
        Bucket: simple("bucket"),
        Function: simple("function"),
        CronV2: simple("cron"),
        Queue,
        Bus,
      },
    },
    aws: { secretsmanager: { Secret: simple("secret") } },
  };
}

let configUrl: string;
let out: string;

beforeAll(async () => {
  // Inside the repository (ignored by git) so the config's imports resolve from node_modules.
  mkdirSync(join(root, ".tmp"), { recursive: true });
  out = mkdtempSync(join(root, ".tmp", "sst-config-"));
  const outfile = join(out, "sst.config.mjs");
  await build({
    entryPoints: [join(root, "sst.config.ts")],
    outfile,
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    logLevel: "error",
  });
  configUrl = pathToFileURL(outfile).href;
});

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.unstubAllEnvs();
});

async function runConfig(env: Record<string, string | undefined>): Promise<Recorded[]> {
  const records: Recorded[] = [];
  for (const [name, value] of Object.entries(fakeSst(records))) vi.stubGlobal(name, value);
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  const config = (await import(configUrl)).default as { run(): Promise<unknown> };
  await config.run();
  return records;
}

function find(records: Recorded[], kind: string, name: string): Recorded {
  const found = records.find((r) => r.kind === kind && r.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
}

/** Each deployed function's arguments, wherever the config hands them to SST. */
function functionArgs(records: Recorded[]): Record<DeployedFunction, Record<string, unknown>> {
  const subscriberArgs = (kind: string, name: string) =>
    find(records, kind, name).subscriber as Record<string, unknown>;
  return {
    api: find(records, "function", "Api").args,
    poller: find(records, "function", "Poller").args,
    provision: subscriberArgs("queue-subscriber", "Provision"),
    push: subscriberArgs("queue-subscriber", "Push"),
    events: subscriberArgs("bus-subscriber", "Commands"),
  };
}

function hasKey(value: unknown, key: string): boolean {
  if (!value || typeof value !== "object") return false;
  return Object.entries(value).some(([k, v]) => k === key || hasKey(v, key));
}

const env = { DATASET_BUCKETS: "team-datasets, other-datasets", ORPHAN_GRACE_SECONDS: undefined };

describe("sst.config.ts", () => {
  it("sizes every function from DEPLOYMENT: nodejs24.x on arm64", async () => {
    const fns = functionArgs(await runConfig(env));
    for (const [name, args] of Object.entries(fns) as [DeployedFunction, Record<string, unknown>][]) {
      expect(args.runtime, name).toBe("nodejs24.x");
      expect(args.architecture, name).toBe("arm64");
      expect(args.timeout, name).toBe(`${DEPLOYMENT[name].timeoutSeconds} seconds`);
      expect(args.memory, name).toBe(`${DEPLOYMENT[name].memoryMb} MB`);
    }
    expect(fns.push.concurrency).toEqual({ reserved: DEPLOYMENT.push.reservedConcurrency });
    expect(fns.api.url).toBe(true);
  });

  it("declares each work queue with its visibility timeout, its DLQ after the code's last delivery, and partial batch responses", async () => {
    const records = await runConfig(env);
    for (const [queue, consumer, name] of [
      ["Provision", DEPLOYMENT.provision, "provision"],
      ["Push", DEPLOYMENT.push, "push"],
    ] as const) {
      const { args } = find(records, "queue", queue);
      expect(args.visibilityTimeout).toBe(`${consumer.queue.visibilityTimeoutSeconds} seconds`);
      expect(args.dlq).toEqual({ queue: `arn:queue:${queue}Dlq`, retry: MAX_DELIVERIES[name] });
      const { options } = find(records, "queue-subscriber", queue);
      expect(options?.batch).toEqual({
        size: consumer.queue.batchSize,
        window: `${consumer.queue.batchWindowSeconds} seconds`,
        partialResponses: true,
      });
    }
    expect(find(records, "queue-subscriber", "Push").options?.transform).toEqual({
      eventSourceMapping: { scalingConfig: { maximumConcurrency: DEPLOYMENT.push.queue.maxConcurrency } },
    });
    for (const dlq of ["ProvisionDlq", "PushDlq", "CommandsDlq"]) {
      expect(find(records, "queue", dlq).args.transform).toEqual({
        queue: { messageRetentionSeconds: DEPLOYMENT.deadLetters.retentionSeconds },
      });
    }
  });

  it("runs one poller on the schedule and on Reconcile Requested, and the subscriber with its DLQ", async () => {
    const records = await runConfig(env);
    const cron = find(records, "cron", "PollerSchedule");
    expect(cron.args.schedule).toBe(DEPLOYMENT.poller.schedule);
    const poller = cron.args.function as { __record: Recorded };
    expect(poller.__record).toBe(find(records, "function", "Poller"));
    const reconcile = find(records, "bus-subscriber", "Reconcile");
    expect(reconcile.subscriber).toBe(poller);
    expect(reconcile.options?.pattern).toEqual({
      source: ["vast-rental"],
      detailType: ["Reconcile Requested"],
    });
    const events = functionArgs(records).events;
    expect(events.transform).toEqual({
      function: { deadLetterConfig: { targetArn: "arn:queue:CommandsDlq" } },
    });
  });

  it("grants each function exactly its FUNCTION_ACCESS, on the resources each names, and links nothing", async () => {
    const records = await runConfig(env);
    expect(hasKey(records, "link")).toBe(false);
    const resources: Record<Access, string[]> = {
      secret: ["arn:secret:VastRentalSecrets"],
      table: ["arn:dynamo:Jobs", "arn:dynamo:Jobs/index/*"],
      bus: ["arn:bus:Events"],
      provisionQueue: ["arn:queue:Provision"],
      pushQueue: ["arn:queue:Push"],
      artifacts: ["arn:bucket:Artifacts/*"],
      datasets: [
        "arn:aws:s3:::team-datasets",
        "arn:aws:s3:::team-datasets/*",
        "arn:aws:s3:::other-datasets",
        "arn:aws:s3:::other-datasets/*",
      ],
      commandsDlq: ["arn:queue:CommandsDlq"],
    };
    const canonical = (statements: unknown[]) => statements.map((st) => JSON.stringify(st)).sort();
    for (const [name, args] of Object.entries(functionArgs(records)) as [
      DeployedFunction,
      Record<string, unknown>,
    ][]) {
      const expected = FUNCTION_ACCESS[name].map((access) => ({
        actions: [...ACCESS[access].actions],
        resources: resources[access],
      }));
      expect(canonical(args.permissions as unknown[]), name).toEqual(canonical(expected));
    }
  });

  it("hands every function the resource names through its environment", async () => {
    const fns = functionArgs(await runConfig(env));
    for (const [name, args] of Object.entries(fns)) {
      expect(args.environment, name).toMatchObject({
        TABLE_NAME: "Jobs-name",
        PROVISION_QUEUE_URL: "https://Provision.example",
        PUSH_QUEUE_URL: "https://Push.example",
        EVENT_BUS_NAME: "Events-name",
        ARTIFACT_BUCKET: "Artifacts-name",
        SECRET_ID: "VastRentalSecrets-id",
        ORPHAN_GRACE_SECONDS: "600",
        DATASET_BUCKETS: "team-datasets,other-datasets",
      });
    }
    expect((fns.events.environment as Record<string, string>).COMMANDS_DLQ_URL).toBe(
      "https://CommandsDlq.example",
    );
    expect((fns.api.environment as Record<string, string>).COMMANDS_DLQ_URL).toBeUndefined();
  });

  it("writes no duration or size of its own: every one comes from the deployment module", async () => {
    const { readFile } = await import("node:fs/promises");
    const source = await readFile(join(root, "sst.config.ts"), "utf8");
    expect(source).not.toMatch(/["'`]\d+ (second|minute|hour|day)s?["'`]/);
    expect(source).not.toMatch(/["'`]\d+ (MB|GB)["'`]/);
    expect(source).not.toMatch(/\blink\s*:/);
  });

  it("packages the training templates with every function, where a bundled handler looks for them", async () => {
    const fns = functionArgs(await runConfig(env));
    for (const [name, args] of Object.entries(fns)) {
      expect(args.copyFiles, name).toEqual([{ from: "packages/core/configs", to: "configs" }]);
    }
    expect(BUNDLE_COPY_FILES).toEqual([{ from: "packages/core/configs", to: "configs" }]);
    const files = await readdir(join(root, "packages/core/configs"));
    expect(files.filter((f) => f.endsWith(".yml")).sort()).toEqual([
      "flux-lora-24gb.yml",
      "flux-lora-low-vram.yml",
    ]);
  });

  it("a handler bundled as SST bundles it starts with the copied templates, and not without them", async () => {
    const pkg = join(out, "package");
    const outfile = join(pkg, "functions", "provision.mjs");
    await build({
      entryPoints: [join(root, "functions", "provision.ts")],
      outfile,
      bundle: true,
      platform: "node",
      target: "node24",
      format: "esm",
      external: ["ssh2", "cpu-features"],
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      logLevel: "error",
    });
    // Module initialisation loads and validates the templates (what a cold start does).
    const start = (): { ok: boolean; output: string } => {
      const script = `const m = await import(${JSON.stringify(outfile)}); console.log(typeof m.handler);`;
      try {
        const output = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
          cwd: root,
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
        });
        return { ok: true, output };
      } catch (error) {
        return { ok: false, output: String((error as { stderr?: string }).stderr ?? error) };
      }
    };
    expect(start()).toMatchObject({
      ok: false,
      output: expect.stringMatching(/no training templates folder/),
    });
    for (const { from, to } of BUNDLE_COPY_FILES)
      cpSync(join(root, from), join(pkg, to), { recursive: true });
    expect(start()).toEqual({ ok: true, output: "function\n" });
  });

  it('refuses to deploy without DATASET_BUCKETS, and allows any readable bucket only with "*"', async () => {
    await expect(runConfig({ DATASET_BUCKETS: "" })).rejects.toThrow(/DATASET_BUCKETS/);
    const fns = functionArgs(await runConfig({ DATASET_BUCKETS: "*" }));
    const statements = fns.push.permissions as { actions: string[]; resources: string[] }[];
    expect(statements.find((s) => s.actions.includes("s3:ListBucket"))?.resources).toEqual(["*"]);
    expect((fns.push.environment as Record<string, string>).DATASET_BUCKETS).toBeUndefined();
  });

  it("refuses an ORPHAN_GRACE_SECONDS that is not a positive whole number", async () => {
    await expect(runConfig({ ...env, ORPHAN_GRACE_SECONDS: "ten minutes" })).rejects.toThrow(
      /ORPHAN_GRACE_SECONDS/,
    );
  });
});
