/**
 * `startVastSim(options)`: the simulator as one listening HTTP server (Hono on node) with its
 * admin object. Used by tests (port 0) and by the CLI.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { type Clock, type Logger, silentLogger, systemClock } from "@vast-rental/core";
import { Hono } from "hono";
import { z } from "zod";
import { createAdmin, type SimAdmin } from "./admin";
import { adminRoutes } from "./api/admin-routes";
import { createRoutes } from "./api/create";
import { type RouteDeps, type SimEnv, toResponse } from "./api/http";
import { instanceRoutes } from "./api/instances";
import { listRoutes } from "./api/list";
import { logRoutes } from "./api/logs";
import { searchRoutes } from "./api/search";
import { sshKeyRoutes } from "./api/ssh-keys";
import { VastHttpError } from "./errors";
import { FaultBook, type RandomFaultProfileInput, RandomFaultProfileSchema } from "./faults";
import { AiToolkitDirSchema, DEFAULT_AI_TOOLKIT_DIRS } from "./host-profile";
import { DEFAULT_DELAYS, type LifecycleDelays } from "./lifecycle";
import { type RateLimitConfig, RateLimiter } from "./rate-limits";
import { SimClock } from "./sim-clock";
import { loadSshBackend, type SimConfinement } from "./ssh-bridge";
import { SimState } from "./state";
import { startWebhookSender, type WebhookTarget } from "./webhooks";

export interface VastSimOptions {
  /** Listen port; 0 (default) = ephemeral. */
  port?: number;
  /** Listen host; default 127.0.0.1. */
  host?: string;
  /** Marketplace (and default fault profile) seed; default 1. */
  seed?: number;
  /** Number of offers generated; default 300. */
  marketSize?: number;
  /** Simulated seconds per real second; default 1. 0 freezes time (move it with `admin.advance`). */
  timeScale?: number;
  /** Simulated seconds in each lifecycle phase; defaults provisioning 5, loading 20. */
  delays?: Partial<LifecycleDelays>;
  /** Account API key; random when absent. */
  apiKey?: string;
  /** Run a real SSH server per instance (default true). Needs bubblewrap unless `unsafeNoSandbox`. */
  ssh?: boolean;
  /**
   * Run instance commands unconfined: as this process's user, on the host, with its network (prints a
   * warning on stderr). Only for machines without bubblewrap, never in tests. Default false: without
   * bubblewrap, startVastSim rejects with SandboxUnavailableError naming what to install.
   */
  unsafeNoSandbox?: boolean;
  /** Where instance folders live; a fresh temp folder (removed on close) when absent. */
  dataDir?: string;
  /** Vast's per-endpoint rate limits: off by default; `true` = Vast's thresholds; or custom intervals. */
  rateLimits?: RateLimitConfig;
  /** A seeded random fault profile, active from the start. */
  faults?: RandomFaultProfileInput;
  /** Bandwidth price in $/GB pushed into instances; default each offer's `inet_down_cost`. */
  bandwidthUsdPerGb?: number;
  /** Simulated seconds of training on every instance (the admin API can change one); default 120. */
  trainingSeconds?: number;
  /**
   * Where instances find ai-toolkit's run.py stand-in: folders under /workspace or /root are written
   * into the instance folder, others (ai-toolkit's image keeps it at /app/ai-toolkit) are bound
   * read-only. Default both `/workspace/ai-toolkit` and `/app/ai-toolkit`. A `host_profile` fault
   * with `aiToolkit: false` gives a host none.
   */
  aiToolkitDirs?: readonly string[];
  /** Polls of a logs `result_url` that answer 404 before the text; default 2. */
  logPendingPolls?: number;
  /** Deliver Vast's signed notification webhooks (outbid, offline, error) here. */
  webhook?: WebhookTarget;
  /** The real clock time is scaled from (tests may inject one). */
  clock?: Clock;
  logger?: Logger;
}

export interface VastSim {
  /** Base URL, e.g. http://127.0.0.1:7070 (point a Vast client's host here). */
  url: string;
  apiKey: string;
  admin: SimAdmin;
  /**
   * How instance commands are confined: "bwrap-container" or "bwrap-per-command" (user namespace without
   * capabilities, no network, read-only system), "unconfined" (asked for); null when SSH is off.
   */
  confinement: SimConfinement | null;
  close(): Promise<void>;
}

/** One line describing a confinement, for people starting the simulator. */
export function describeConfinement(confinement: SimConfinement | null): string {
  switch (confinement) {
    case "bwrap-container":
      return "bubblewrap container per instance (user namespace, all capabilities dropped, no network, read-only system)";
    case "bwrap-per-command":
      return "bubblewrap per command (user namespace, all capabilities dropped, no network, read-only system; detached jobs end with their command)";
    case "unconfined":
      return "UNCONFINED (--unsafe-no-sandbox): instance commands run on this machine as this user";
    case null:
      return "none (SSH off)";
  }
}

const UNSAFE_WARNING =
  "vast-sim: WARNING: --unsafe-no-sandbox: instance commands run UNCONFINED on this machine, as this " +
  "process's user and with its network; a command sent to a simulated instance can change this machine.\n";

export async function startVastSim(options: VastSimOptions = {}): Promise<VastSim> {
  // First, so a machine without bubblewrap fails before anything is created.
  const ssh = await loadSshBackend(options.ssh ?? true, {
    unsafeNoSandbox: options.unsafeNoSandbox ?? false,
  });
  if (ssh.confinement === "unconfined") process.stderr.write(UNSAFE_WARNING);
  const apiKey = options.apiKey ?? randomBytes(32).toString("hex");
  // Options are checked before the data folder exists, so a refused start leaves nothing behind.
  const profile = options.faults ? RandomFaultProfileSchema.parse(options.faults) : null;
  const aiToolkitDirs = z
    .array(AiToolkitDirSchema)
    .parse(options.aiToolkitDirs ?? [...DEFAULT_AI_TOOLKIT_DIRS]);
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "vast-sim-")));
  const removeDataDir = async () => {
    if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
  };
  const clock = new SimClock(options.timeScale ?? 1, options.clock ?? systemClock);
  const faults = new FaultBook(profile);
  const logger = options.logger ?? silentLogger;
  const state = new SimState(
    {
      seed: options.seed ?? 1,
      marketSize: options.marketSize ?? 300,
      delays: { ...DEFAULT_DELAYS, ...options.delays },
      dataDir,
      bandwidthUsdPerGb: options.bandwidthUsdPerGb ?? null,
      logPendingPolls: options.logPendingPolls ?? 2,
      trainingSeconds: options.trainingSeconds ?? null,
      aiToolkitDirs,
      userId: 270_000 + ((options.seed ?? 1) % 1000),
    },
    clock,
    faults,
    ssh,
    logger,
  );
  let baseUrl = "";
  const deps: RouteDeps = {
    state,
    apiKey,
    faults,
    rateLimiter: RateLimiter.from(options.rateLimits),
    clock,
    baseUrl: () => baseUrl,
  };
  const admin = createAdmin(state);
  const app = new Hono<SimEnv>({ strict: false });
  app.onError((err, c) => {
    const res = toResponse(err, c);
    if (!(err instanceof VastHttpError) && res.status === 500) {
      logger.error("vast-sim handler failed", { error: String(err) });
    }
    return res;
  });
  searchRoutes(app, deps);
  createRoutes(app, deps);
  listRoutes(app, deps);
  instanceRoutes(app, deps);
  sshKeyRoutes(app, deps);
  logRoutes(app, deps);
  adminRoutes(app, deps, admin);
  app.notFound((c) => c.json({ success: false, error: "not_found", msg: "error 404: Not found" }, 404));

  // A port that cannot be had fails the start (rather than leaving it waiting forever).
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve(
      { fetch: app.fetch, port: options.port ?? 0, hostname: options.host ?? "127.0.0.1" },
      () => {
        // Only the start's own error: a later server error must still surface as before.
        s.off("error", reject);
        resolve(s);
      },
    );
    s.once("error", reject);
  }).catch(async (error: unknown) => {
    await state.closeAll().catch(() => {});
    await removeDataDir();
    throw error;
  });
  const address = server.address() as AddressInfo;
  baseUrl = `http://${options.host ?? "127.0.0.1"}:${address.port}`;
  const webhooks = options.webhook ? startWebhookSender(state, options.webhook, logger) : null;
  // Keeps lifecycle transitions (and their webhooks) flowing even when nobody polls.
  const ticker = setInterval(() => state.refreshAll(), 250);
  ticker.unref();

  return {
    url: baseUrl,
    apiKey,
    admin,
    confinement: ssh.confinement,
    close: async () => {
      clearInterval(ticker);
      webhooks?.stop();
      try {
        await state.closeAll();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      } finally {
        await removeDataDir();
      }
    },
  };
}
