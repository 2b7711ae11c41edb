/**
 * `npm start` as a user runs it: `tsx packages/local/src/cli.ts` in the repository, on free ports
 * and a temporary state folder. The sample job reaches `succeeded` and the command exits 0 with the
 * cost printed; a second start on the same state folder, or on the same ports, is refused in one
 * line without touching the first; a bad flag is its usage error; Ctrl-C (SIGINT to the whole
 * process group, as a terminal sends it) stops everything. After each run no process the command
 * started is left, its ports are free and its state folder is empty.
 *
 * Processes are found through /proc (Linux, like the simulator's bubblewrap sandbox).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger } from "@vast-rental/core";
import { startVastSim } from "@vast-rental/vast-sim";
import { afterEach, describe, expect, it } from "vitest";
import { pollUntil } from "../../../test/support/poll";
import { assertPortFree, freePort } from "../src/ports";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
const TSX = join(repoRoot, "node_modules", ".bin", "tsx");
const CLI = "packages/local/src/cli.ts";
const FAST = ["--training-seconds", "3", "--boot-seconds", "2", "--poll-interval", "1"];
const PORT_VARIABLES = ["PORT", "VAST_SIM_PORT", "AWS_PORT", "DYNAMODB_PORT", "EVENTS_PORT"] as const;

interface Run {
  child: ChildProcess;
  out(): string;
  err(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every process seen below it while it ran, with its command line. */
  seen: Map<number, string>;
}

const runs: Run[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const run of runs.splice(0)) {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      // Its own process group, and what left the group (DynamoDB Local has its own).
      process.kill(-run.child.pid!, "SIGKILL");
      await run.exited;
    }
    // Only what still runs the command seen: a pid may have been reused since.
    for (const [pid, command] of run.seen) {
      if (await running(pid, command)) process.kill(pid, "SIGKILL");
    }
  }
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A fresh state folder (not created: the command creates it) and free ports for one run. */
async function setting(): Promise<{ env: Record<string, string>; stateDir: string; ports: number[] }> {
  const dir = await mkdtemp(join(tmpdir(), "local-cli-test-"));
  dirs.push(dir);
  const stateDir = join(dir, "state");
  const ports: number[] = [];
  const env: Record<string, string> = { LOCAL_STATE_DIR: stateDir };
  for (const name of PORT_VARIABLES) {
    let port = await freePort();
    while (ports.includes(port)) port = await freePort();
    ports.push(port);
    env[name] = String(port);
  }
  return { env, stateDir, ports };
}

/** Starts `npm start`'s command in its own process group, as a terminal would run it. */
function start(args: string[], env: Record<string, string>): Run {
  const inherited = { ...process.env };
  for (const name of [
    ...PORT_VARIABLES,
    "LOCAL_API_KEY",
    "LOCAL_STATE_DIR",
    "VASTAI_API_KEY",
    "VASTAI_BASE_URL",
    "HF_TOKEN",
    "LOG_LEVEL",
  ]) {
    delete inherited[name];
  }
  const child = spawn(TSX, [CLI, ...args], {
    cwd: repoRoot,
    // tsx's shebang runs `node` from PATH: the one running this test (the repository's Node 24).
    env: { ...inherited, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}`, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal })),
  );
  const run: Run = { child, out: () => out, err: () => err, exited, seen: new Map() };
  watchProcesses(run);
  runs.push(run);
  return run;
}

async function until(what: string, check: () => boolean, timeoutMs: number, run: Run): Promise<void> {
  const ok = await pollUntil(async () => (check() ? true : undefined), timeoutMs, 100);
  if (!ok)
    throw new Error(`waited ${timeoutMs} ms for ${what}\nstdout:\n${run.out()}\nstderr:\n${run.err()}`);
}

const commandLine = async (pid: number | string) =>
  (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).replaceAll("\0", " ").trim();

/** Processes whose parent chain leads to `root` (read from /proc). */
async function descendants(root: number): Promise<Map<number, string>> {
  const parents = new Map<number, number>();
  const commands = new Map<number, string>();
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    if (!stat) continue;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const [, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    parents.set(Number(entry), Number(ppid));
    commands.set(Number(entry), await commandLine(entry));
  }
  const found = new Map<number, string>();
  for (const pid of parents.keys()) {
    for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) {
      if (p === root) {
        found.set(pid, commands.get(pid) ?? "");
        break;
      }
    }
  }
  return found;
}

/** Alive, not a zombie, and still running `command` (not a reused pid). */
async function running(pid: number, command: string): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  if (stat === "" || stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z") return false;
  return (await commandLine(pid)) === command;
}

/** Gathers every process the run starts, until it exits. */
function watchProcesses(run: Run): void {
  const look = async () => {
    for (const [pid, command] of await descendants(run.child.pid!)) run.seen.set(pid, command);
  };
  const timer = setInterval(() => void look(), 250);
  void run.exited.then(() => clearInterval(timer));
}

/** No process the run started still runs (waiting a little for the last ones to go). */
async function expectNoProcessLeft(run: Run): Promise<void> {
  const alive = async () => {
    const found: string[] = [];
    for (const [pid, command] of run.seen) if (await running(pid, command)) found.push(`${pid} ${command}`);
    return found;
  };
  await pollUntil(async () => ((await alive()).length === 0 ? true : undefined), 5_000, 100);
  expect(await alive()).toEqual([]);
}

/** Nothing the run started is left: processes, ports, state files. */
async function expectCleanedUp(run: Run, setup: { stateDir: string; ports: number[] }): Promise<void> {
  await expectNoProcessLeft(run);
  for (const [i, port] of setup.ports.entries()) await assertPortFree(port, PORT_VARIABLES[i]!);
  expect(await readdir(setup.stateDir)).toEqual([]);
}

describe("npm start", () => {
  it("runs the sample job to succeeded and exits 0 with its cost; a second start is refused in one line and touches nothing", async () => {
    const setup = await setting();
    const first = start([...FAST, "--exit-when-done"], setup.env);
    await until("the endpoints", () => first.out().includes("Endpoints written to"), 90_000, first);

    // stack.json, while it runs: the endpoints on the ports asked for, and the keys printed.
    const stackFile = join(setup.stateDir, "stack.json");
    const written = await readFile(stackFile, "utf8");
    const stack = JSON.parse(written) as { apiUrl: string; apiKey: string; vastUrl: string; vastKey: string };
    expect(Object.keys(stack)).toEqual(["apiUrl", "apiKey", "vastUrl", "vastKey"]);
    expect(stack.apiUrl).toBe(`http://127.0.0.1:${setup.env.PORT}`);
    expect(stack.vastUrl).toBe(`http://127.0.0.1:${setup.env.VAST_SIM_PORT}`);
    expect(first.out()).toContain(`  API           ${stack.apiUrl}   docs ${stack.apiUrl}/docs`);
    expect(first.out()).toContain(`  API key       ${stack.apiKey}   `);
    expect(first.out()).toContain(`  Vast (sim)    ${stack.vastUrl}   key ${stack.vastKey}   `);
    expect(first.out()).toContain(`  SQS and S3    http://127.0.0.1:${setup.env.AWS_PORT}`);
    expect(first.out()).toContain(`  DynamoDB      http://127.0.0.1:${setup.env.DYNAMODB_PORT}`);
    expect(first.out()).toContain(`  EventBridge   http://127.0.0.1:${setup.env.EVENTS_PORT}`);
    expect(first.out()).toContain(`  Endpoints written to ${stackFile}`);
    expect([...first.seen.values()].some((command) => command.includes("DynamoDBLocal.jar"))).toBe(true);

    // While it runs, two more starts: one on the same state folder (refused by its lock), one with
    // its own state folder on the same ports (refused by the busy port). Each: one line, status 1.
    const ownState = await setting();
    const sameState = start(FAST, setup.env);
    const samePorts = start(FAST, { ...setup.env, LOCAL_STATE_DIR: ownState.stateDir });
    const [lockRefusal, portRefusal] = await Promise.all([sameState.exited, samePorts.exited]);
    expect(lockRefusal.code).toBe(1);
    expect(sameState.out()).toBe("");
    expect(sameState.err().trimEnd().split("\n")).toEqual([
      expect.stringMatching(
        new RegExp(
          `^another local stack is running \\(pid \\d+, API ${stack.apiUrl.replaceAll(".", "\\.")}\\): `,
        ),
      ),
    ]);
    expect(portRefusal.code).toBe(1);
    expect(samePorts.err()).toBe(
      `port ${setup.env.PORT} (PORT) is already in use: stop what listens there, or set PORT to another port\n`,
    );
    expect(await readdir(ownState.stateDir)).toEqual([]);
    // The first's files are as it wrote them.
    expect(await readFile(stackFile, "utf8")).toBe(written);

    const { code } = await first.exited;
    expect(code, `stdout:\n${first.out()}\nstderr:\n${first.err()}`).toBe(0);
    const out = first.out();
    expect(out).toMatch(/^Sample dataset: 48 files \(\d+\.\d KiB\) in s3:\/\/datasets\/sample\/$/m);
    expect(out).toMatch(/^\d+:\d{2} {2}training {2}instance \d+/m);
    expect(out).toMatch(/^job job_\w+ succeeded in \d+:\d{2}$/m);
    expect(out).toMatch(/^ {2}cost {6}\$0\.\d{4}$/m);
    expect(out).toMatch(/^ {2}LoRA {6}s3:\/\/artifacts\//m);
    // Not a terminal: plain lines, no cursor movement.
    expect(out).not.toContain("\x1b");
    await expectCleanedUp(first, setup);
    for (const refused of [sameState, samePorts]) await expectNoProcessLeft(refused);
  }, 180_000);

  it("stops everything on Ctrl-C mid-training and exits 0", async () => {
    const setup = await setting();
    const run = start(
      ["--training-seconds", "120", "--boot-seconds", "2", "--poll-interval", "1"],
      setup.env,
    );
    await until("training", () => /^\d+:\d{2} {2}training /m.test(run.out()), 90_000, run);
    // The simulated instance runs in its sandbox: processes the command started.
    const sandboxed = () => [...run.seen.values()].some((command) => command.includes("bwrap"));
    await until("the instance's sandbox", sandboxed, 5_000, run);
    expect([...run.seen.values()].some((command) => command.includes("DynamoDBLocal.jar"))).toBe(true);

    // As a terminal does: every process in the foreground group gets SIGINT.
    process.kill(-run.child.pid!, "SIGINT");
    const { code } = await run.exited;
    expect(code, `stdout:\n${run.out()}\nstderr:\n${run.err()}`).toBe(0);
    expect(run.out()).toContain("Stopping: ");
    // An orderly stop: DynamoDB Local outlived the signal, so the stop could still read and end the
    // running job, and nothing failed on the way down.
    expect(run.err()).not.toMatch(/did not stop cleanly|ECONNREFUSED|failed/);
    await expectCleanedUp(run, setup);
  }, 180_000);

  it("refuses a bad flag with its usage error and exit status 2, starting nothing", async () => {
    const setup = await setting();
    const run = start(["--poll-interval", "never"], setup.env);
    const { code } = await run.exited;
    expect(code).toBe(2);
    expect(run.out()).toBe("");
    expect(run.err()).toBe(
      '--poll-interval must be a number ≥ 1, not "never"\n(npm start -- --help lists the options)\n',
    );
    // Nothing was claimed.
    await expect(readdir(setup.stateDir)).rejects.toMatchObject({ code: "ENOENT" });
    await expectNoProcessLeft(run);
  }, 60_000);

  it("npm run live-check takes a Vast-compatible API (the simulator) to a trained, collected, destroyed job and prints its cost", async () => {
    // The flags `npm run live-check` passes, read from package.json so the test runs what users run.
    const pkg = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    const script = pkg.scripts["live-check"]!.split(" ");
    expect(script.slice(0, 2)).toEqual(["tsx", CLI]);
    const vast = await startVastSim({
      seed: 5,
      trainingSeconds: 3,
      delays: { provisioningSeconds: 0.5, loadingSeconds: 1.5 },
      logger: silentLogger,
    });
    try {
      const setup = await setting();
      const env = {
        ...setup.env,
        VASTAI_API_KEY: vast.apiKey,
        VASTAI_BASE_URL: vast.url,
        HF_TOKEN: "hf_live_check_token",
      };
      const refused = start(script.slice(2), env);
      expect((await refused.exited).code).toBe(2);
      expect(refused.err()).toMatch(
        /^--live rents real GPUs: give the sample job a budget with --budget <usd>$/m,
      );

      const run = start([...script.slice(2), "--budget", "1", "--yes", "--poll-interval", "1"], env);
      const { code } = await run.exited;
      expect(code, `stdout:\n${run.out()}\nstderr:\n${run.err()}`).toBe(0);
      const out = run.out();
      expect(out).toContain("Starting vast-rental locally (real Vast.ai)");
      expect(out).toMatch(
        /^Real Vast\.ai: the sample job would rent a .+ at \$\d+\.\d+\/h \(offer \d+\), budget \$1\.00?0*\.$/m,
      );
      expect(out).toMatch(/^job job_\w+ succeeded in \d+:\d{2}$/m);
      expect(out).toMatch(/^ {2}cost {6}\$0\.\d{4}$/m);
      // Everything it rented is destroyed, and it rented once.
      const instances = vast.admin.instances();
      expect(instances).toHaveLength(1);
      expect(instances[0]!.destroyedAtMs).not.toBeNull();
      expect(instances[0]!.label).toMatch(/^vast-rental:job_\w+:1$/);
      await expectCleanedUp(run, { ...setup, ports: setup.ports.filter((_, i) => i !== 1) });
    } finally {
      await vast.close();
    }
  }, 180_000);
});
