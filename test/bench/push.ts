/**
 * Dataset push against the tools a user would otherwise reach for, measured as a user pays for it:
 * the whole transfer, connection included, into a fresh destination, on a real OpenSSH `sshd` on
 * loopback (own host key, own authorized_keys, high port, in a temp folder). Run:
 *
 *   npx tsx test/bench/push.ts [--small 2000] [--large 8] [--large-mb 128] [--runs 5]
 *     [--tools ours,tar,tar-verified,rsync,scp] [--rtt-ms 0] [--no-rss] [--data-dir DIR] [--json FILE]
 *
 * Datasets (generated once, seeded, incompressible, cached in `--data-dir` between runs):
 * - small: `--small` image+caption pairs, images 50–250 KB (≈ 300 MB for 2,000 pairs);
 * - large: `--large` files of `--large-mb` MB (≈ 1 GB by default) plus one caption each.
 * Each dataset folder also holds `bench.sha256` (sha256sum format, every file) for the verified
 * baseline; this project's packer skips that file (neither image nor caption) and makes its own.
 *
 * Tools, each connecting inside every iteration:
 * - `ours`: `connectSsh` + `pushDataset` (packing, hashing, remote extraction and verification) + close;
 * - `tar`: `tar c | ssh host 'tar x'` (OpenSSH client and GNU tar, no verification);
 * - `tar-verified`: `tar c | ssh host 'tar x && sha256sum -c bench.sha256'`: the fair verified baseline;
 * - `rsync`: `rsync -a` over ssh (skipped when rsync is not installed);
 * - `scp`: `scp -r`.
 * Runs are interleaved (round r runs every tool once, starting at a rotating position) and every
 * run writes into a fresh destination that is removed (and `sync`ed) after it, untimed.
 *
 * Memory: `ours` also runs once per dataset size (half and full of each dataset) in a child process
 * that reports its peak RSS (`process.resourceUsage().maxRSS`): flat means the push does not grow
 * with the dataset.
 *
 * Prints a table and the JSON result; `runPushBenchmark` is the same thing as a function.
 */
import { execFile, spawn } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { localDatasetReader, type PushDatasetResult, pushDataset } from "../../packages/core/src/dataset";
import { connectSsh, shellQuote } from "../../packages/core/src/ssh";
import { startSshd, startTcpProxy, type TestSshd } from "../support/sshd";
import { median } from "./common";

const run = promisify(execFile);

export const PUSH_BENCH_TOOLS = ["ours", "tar", "tar-verified", "rsync", "scp"] as const;
export type PushBenchTool = (typeof PUSH_BENCH_TOOLS)[number];

export interface PushBenchOptions {
  /** Image+caption pairs of the many-small-files dataset (0 leaves it out). */
  smallPairs: number;
  /** Files of the few-large-files dataset (0 leaves it out). */
  largeFiles: number;
  largeMb: number;
  /** Interleaved rounds; every tool runs once per dataset per round. */
  runs: number;
  tools: readonly PushBenchTool[];
  /** Round trip added by a delaying loopback proxy in front of sshd (0: none). */
  rttMs: number;
  /** Measure peak RSS of `ours` in a child process at half and full dataset size. */
  rss: boolean;
  /** Where the generated datasets are kept between runs of the bench. */
  dataDir: string;
  log: (line: string) => void;
}

export const DEFAULT_PUSH_BENCH_OPTIONS: PushBenchOptions = {
  smallPairs: 2000,
  largeFiles: 8,
  largeMb: 128,
  runs: 5,
  tools: PUSH_BENCH_TOOLS,
  rttMs: 0,
  rss: true,
  dataDir: join(tmpdir(), "vast-rental-push-bench"),
  log: (line) => console.error(line),
};

export interface PushBenchToolResult {
  tool: PushBenchTool;
  runsMs: number[];
  medianMs: number;
  /** Payload MB (10^6 bytes) per second at the median. */
  mbPerSecond: number;
  /** tar's median time / this tool's median time: 1 = as fast as `tar | ssh`, 0.5 = twice as slow. */
  speedVsTar: number | null;
  /**
   * The median over rounds of tar's time / this tool's time in the same round: steadier than the
   * ratio of medians when the machine's load drifts during the bench.
   */
  speedVsTarPaired: number | null;
  /**
   * CPU time of each run, both ends together: this process (our push runs in it; the other tools
   * are its reaped children) plus sshd and everything it ran for the session. Unlike wall time, it
   * hardly moves when other work shares the machine.
   */
  cpuRunsMs: number[];
  cpuMedianMs: number;
  /** This tool's median CPU time / tar's: 1 = the same work as `tar | ssh`, 2 = twice as much. */
  cpuVsTar: number | null;
}

export interface PushBenchDataset {
  name: "small" | "large";
  files: number;
  bytes: number;
  tools: PushBenchToolResult[];
}

export interface PushBenchRss {
  dataset: "small" | "large";
  files: number;
  bytes: number;
  /** Peak RSS of the whole child process (Node, modules, push). */
  maxRssMb: number;
  /** RSS once connected, before the push. */
  rssBeforeMb: number;
  ms: number;
}

export interface PushBenchResult {
  options: Omit<PushBenchOptions, "log">;
  node: string;
  /** Cipher and ssh2 crypto path `ours` used. */
  ssh2NativeCrypto: boolean;
  datasets: PushBenchDataset[];
  rss: PushBenchRss[];
}

interface Dataset {
  name: "small" | "large";
  dir: string;
  files: number;
  bytes: number;
}

export async function runPushBenchmark(overrides: Partial<PushBenchOptions> = {}): Promise<PushBenchResult> {
  const options = { ...DEFAULT_PUSH_BENCH_OPTIONS, ...overrides };
  const { log } = options;
  const tools = options.tools.filter((tool) => tool !== "rsync" || hasProgram("rsync"));
  if (tools.length < options.tools.length) log("rsync is not installed: left out (apt-get install rsync)");

  const datasets: Dataset[] = [];
  if (options.smallPairs > 0) datasets.push(await smallDataset(options.dataDir, options.smallPairs));
  if (options.largeFiles > 0)
    datasets.push(await largeDataset(options.dataDir, options.largeFiles, options.largeMb));

  const sshd = await startSshd();
  const proxy =
    options.rttMs > 0 ? await startTcpProxy(sshd.port, { latencyMs: options.rttMs / 2 }) : undefined;
  const port = proxy?.port ?? sshd.port;
  const runners = toolRunners(sshd, port);
  const times = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  const sshdPid = Number((await readFile(join(sshd.workspaceRoot, "..", "sshd.pid"), "utf8")).trim());
  let n = 0;
  try {
    for (let round = 0; round < options.runs; round++) {
      for (const dataset of datasets) {
        for (let i = 0; i < tools.length; i++) {
          const tool = tools[(i + round) % tools.length] as PushBenchTool;
          const dest = join(sshd.workspaceRoot, `run-${n++}`);
          const cpuBefore = await cpuMs(sshdPid);
          const started = performance.now();
          await runners[tool](dataset.dir, dest);
          const ms = performance.now() - started;
          // sshd reaps the session's processes just after the client has gone.
          await new Promise((resolve) => setTimeout(resolve, 300));
          const cpuUsed = (await cpuMs(sshdPid)) - cpuBefore;
          await rm(dest, { recursive: true, force: true });
          await run("sync");
          const key = `${dataset.name}/${tool}`;
          times.set(key, [...(times.get(key) ?? []), ms]);
          cpu.set(key, [...(cpu.get(key) ?? []), cpuUsed]);
          log(
            `round ${round + 1}/${options.runs} ${dataset.name} ${tool}: ${ms.toFixed(0)} ms, CPU ${cpuUsed.toFixed(0)} ms`,
          );
        }
      }
    }
  } finally {
    await proxy?.close();
    await sshd.close();
  }

  const results: PushBenchDataset[] = datasets.map((dataset) => {
    const tarRuns = times.get(`${dataset.name}/tar`) ?? [];
    const tarMedian = median(tarRuns);
    return {
      name: dataset.name,
      files: dataset.files,
      bytes: dataset.bytes,
      tools: tools.map((tool) => {
        const runsMs = (times.get(`${dataset.name}/${tool}`) ?? []).map((ms) => Math.round(ms));
        const medianMs = median(runsMs);
        const cpuRunsMs = (cpu.get(`${dataset.name}/${tool}`) ?? []).map((ms) => Math.round(ms));
        const tarCpu = median(cpu.get(`${dataset.name}/tar`) ?? []);
        return {
          tool,
          runsMs,
          medianMs,
          mbPerSecond: round2(dataset.bytes / 1e6 / (medianMs / 1000)),
          speedVsTar: Number.isFinite(tarMedian) ? round2(tarMedian / medianMs) : null,
          speedVsTarPaired:
            tarRuns.length === runsMs.length && runsMs.length > 0
              ? round2(median(runsMs.map((ms, i) => (tarRuns[i] as number) / ms)))
              : null,
          cpuRunsMs,
          cpuMedianMs: median(cpuRunsMs),
          cpuVsTar: Number.isFinite(tarCpu) ? round2(median(cpuRunsMs) / tarCpu) : null,
        };
      }),
    };
  });

  const rss: PushBenchRss[] = [];
  if (options.rss && tools.includes("ours")) {
    for (const dataset of datasets) {
      const half =
        dataset.name === "small"
          ? await smallDataset(options.dataDir, Math.max(1, Math.floor(options.smallPairs / 2)))
          : await largeDataset(
              options.dataDir,
              Math.max(1, Math.floor(options.largeFiles / 2)),
              options.largeMb,
            );
      for (const d of [half, dataset]) {
        const measured = await rssInChild(d);
        rss.push(measured);
        log(`rss ${d.name} ${d.files} files ${(d.bytes / 1e6).toFixed(0)} MB: peak ${measured.maxRssMb} MB`);
      }
    }
  }

  const { log: _log, ...rest } = options;
  return {
    options: { ...rest, tools },
    node: process.version,
    ssh2NativeCrypto: await ssh2NativeCrypto(),
    datasets: results,
    rss,
  };
}

type Runner = (source: string, dest: string) => Promise<void>;

function toolRunners(sshd: TestSshd, port: number): Record<PushBenchTool, Runner> {
  // sshd.sshArgs name the server's port; the bench may go through the proxy instead.
  const sshOpts = sshd.sshArgs.filter((_, i, all) => all[i] !== "-p" && all[i - 1] !== "-p");
  const ssh = ["ssh", ...sshOpts, "-p", String(port), `${sshd.username}@127.0.0.1`].map(shellQuote).join(" ");
  const tarPipe = (source: string, remote: string) =>
    run("bash", ["-o", "pipefail", "-c", `tar c -C ${shellQuote(source)} . | ${ssh} ${shellQuote(remote)}`]);
  return {
    ours: async (source, dest) => {
      const session = await connectSsh({
        host: "127.0.0.1",
        port,
        username: sshd.username,
        privateKey: sshd.privateKey,
        expectedHostKey: sshd.hostKeyFingerprint,
      });
      try {
        await pushDataset(session, {
          jobId: "bench",
          workspaceRoot: dest,
          reader: localDatasetReader(source),
        });
      } finally {
        await session.close();
      }
    },
    tar: async (source, dest) => {
      await tarPipe(source, `mkdir -p ${shellQuote(dest)} && tar x -C ${shellQuote(dest)}`);
    },
    "tar-verified": async (source, dest) => {
      const d = shellQuote(dest);
      await tarPipe(
        source,
        `mkdir -p ${d} && tar x -C ${d} && cd ${d} && sha256sum -c --quiet --strict bench.sha256`,
      );
    },
    rsync: async (source, dest) => {
      const e = ["ssh", ...sshOpts, "-p", String(port)].map(shellQuote).join(" ");
      await run("rsync", ["-a", "-e", e, `${source}/`, `${sshd.username}@127.0.0.1:${dest}/`]);
    },
    scp: async (source, dest) => {
      await run("scp", [
        "-q",
        "-r",
        ...sshOpts,
        "-P",
        String(port),
        source,
        `${sshd.username}@127.0.0.1:${dest}`,
      ]);
    },
  };
}

/** Seeded, incompressible bytes at memory speed: an AES-CTR keystream keyed by the seed. */
function seededStream(seed: string) {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  return (size: number) => cipher.update(Buffer.alloc(size));
}

async function smallDataset(root: string, pairs: number): Promise<Dataset> {
  const dir = join(root, `small-${pairs}`);
  return await cached(dir, "small", async (write) => {
    const bytes = seededStream(`small-${pairs}`);
    for (let i = 0; i < pairs; i++) {
      const folder = `set-${i % 4}`;
      // 50–250 KB, spread evenly by a cheap deterministic sequence.
      const size = 50_000 + ((i * 7919) % 200_000);
      await write(`${folder}/img-${String(i).padStart(5, "0")}.jpg`, bytes(size));
      await write(
        `${folder}/img-${String(i).padStart(5, "0")}.txt`,
        Buffer.from(`a photo of sks person, take ${i}`),
      );
    }
  });
}

async function largeDataset(root: string, files: number, mb: number): Promise<Dataset> {
  const dir = join(root, `large-${files}x${mb}`);
  return await cached(dir, "large", async (write) => {
    const bytes = seededStream(`large-${files}x${mb}`);
    for (let i = 0; i < files; i++) {
      await write(`big-${i}.png`, bytes(mb * 1024 * 1024));
      await write(`big-${i}.txt`, Buffer.from(`a large image ${i}`));
    }
  });
}

/** Generates a dataset once (with its `bench.sha256`); a `.complete` file says it is whole. */
async function cached(
  dir: string,
  name: "small" | "large",
  generate: (write: (path: string, data: Buffer) => Promise<void>) => Promise<void>,
): Promise<Dataset> {
  const done = join(dir, ".complete");
  if (existsSync(done)) {
    const { files, bytes } = JSON.parse(
      await import("node:fs/promises").then((fs) => fs.readFile(done, "utf8")),
    );
    return { name, dir, files, bytes };
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const lines: string[] = [];
  let files = 0;
  let bytes = 0;
  await generate(async (path, data) => {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), data);
    lines.push(`${createHash("sha256").update(data).digest("hex")}  ${path}\n`);
    files++;
    bytes += data.length;
  });
  await writeFile(join(dir, "bench.sha256"), lines.join(""));
  await writeFile(done, JSON.stringify({ files, bytes }));
  return { name, dir, files, bytes };
}

async function rssInChild(dataset: Dataset): Promise<PushBenchRss> {
  const sshd = await startSshd();
  try {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        fileURLToPath(import.meta.url),
        "--rss-child",
        JSON.stringify({ ...sshd, dataset }),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    if (code !== 0) throw new Error(`rss child exited ${code}: ${out}`);
    const measured = JSON.parse(out.trim().split("\n").pop() ?? "{}") as Omit<
      PushBenchRss,
      "dataset" | "files" | "bytes"
    >;
    return { dataset: dataset.name, files: dataset.files, bytes: dataset.bytes, ...measured };
  } finally {
    await sshd.close();
  }
}

/** The child: connect, push once, report peak RSS. */
async function rssChild(arg: string): Promise<void> {
  const { dataset, ...sshd } = JSON.parse(arg) as TestSshd & { dataset: Dataset };
  const session = await connectSsh({
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.privateKey,
    expectedHostKey: sshd.hostKeyFingerprint,
  });
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  const result: PushDatasetResult = await pushDataset(session, {
    jobId: "rss",
    workspaceRoot: join(sshd.workspaceRoot, "rss"),
    reader: localDatasetReader(dataset.dir),
  });
  const ms = Math.round(performance.now() - started);
  await session.close();
  const mb = (bytes: number) => round2(bytes / 1024 / 1024);
  console.log(
    JSON.stringify({
      maxRssMb: mb(process.resourceUsage().maxRSS * 1024),
      rssBeforeMb: mb(rssBefore),
      ms,
      pushedFiles: result.files,
    }),
  );
}

async function ssh2NativeCrypto(): Promise<boolean> {
  const { createRequire } = await import("node:module");
  const require = createRequire(import.meta.url);
  try {
    require("ssh2/lib/protocol/crypto/build/Release/sshcrypto.node");
    return true;
  } catch {
    return false;
  }
}

/**
 * CPU milliseconds so far of this process, its reaped children, and sshd's reaped children (each
 * connection's processes, down to the remote `tar`/python, once they have exited).
 */
async function cpuMs(sshdPid: number): Promise<number> {
  const ticks = async (pid: number | "self") => {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): utime is the 14th field overall.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const at = (field: number) => Number(fields[field - 3]);
    return { own: at(14) + at(15), children: at(16) + at(17) };
  };
  const self = await ticks("self");
  const server = await ticks(sshdPid);
  // Our own time from cpuUsage (µs), children's from /proc (clock ticks, 100 per second).
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000 + (self.children + server.children + server.own) * 10;
}

function hasProgram(name: string): boolean {
  return (process.env.PATH ?? "").split(":").some((dir) => dir && existsSync(join(dir, name)));
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

export function formatPushBenchmark(result: PushBenchResult): string {
  const lines: string[] = [];
  for (const dataset of result.datasets) {
    lines.push(
      `\n${dataset.name}: ${dataset.files} files, ${(dataset.bytes / 1e6).toFixed(0)} MB, ${result.options.runs} interleaved runs, RTT ${result.options.rttMs} ms`,
    );
    lines.push(
      "| tool | median | MB/s | speed vs tar (medians) | speed vs tar (paired by round) | CPU (both ends) | CPU vs tar | runs (ms) |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    );
    for (const t of dataset.tools) {
      lines.push(
        `| ${t.tool} | ${(t.medianMs / 1000).toFixed(2)} s | ${t.mbPerSecond.toFixed(0)} | ${t.speedVsTar?.toFixed(2) ?? "-"} | ${t.speedVsTarPaired?.toFixed(2) ?? "-"} | ${(t.cpuMedianMs / 1000).toFixed(2)} s | ${t.cpuVsTar?.toFixed(2) ?? "-"} | ${t.runsMs.join(", ")} |`,
      );
    }
  }
  if (result.rss.length > 0) {
    lines.push(
      "\npeak RSS of this project's push (child process)",
      "| dataset | files | MB | peak RSS | RSS before push |",
    );
    lines.push("| --- | ---: | ---: | ---: | ---: |");
    for (const r of result.rss) {
      lines.push(
        `| ${r.dataset} | ${r.files} | ${(r.bytes / 1e6).toFixed(0)} | ${r.maxRssMb} MB | ${r.rssBeforeMb} MB |`,
      );
    }
  }
  lines.push(`\nssh2 native crypto binding: ${result.ssh2NativeCrypto ? "yes" : "no (pure JS)"}`);
  return lines.join("\n");
}

function parseArgs(argv: readonly string[]): Partial<PushBenchOptions> & { json?: string } {
  const out: Partial<PushBenchOptions> & { json?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const number = () => {
      const v = Number(value());
      if (!Number.isFinite(v) || v < 0) throw new Error(`${flag} needs a non-negative number`);
      return v;
    };
    switch (flag) {
      case "--small":
        out.smallPairs = number();
        break;
      case "--large":
        out.largeFiles = number();
        break;
      case "--large-mb":
        out.largeMb = number();
        break;
      case "--runs":
        out.runs = Math.max(1, number());
        break;
      case "--rtt-ms":
        out.rttMs = number();
        break;
      case "--tools": {
        const tools = value().split(",");
        for (const tool of tools)
          if (!(PUSH_BENCH_TOOLS as readonly string[]).includes(tool))
            throw new Error(`unknown tool ${tool}`);
        out.tools = tools as PushBenchTool[];
        break;
      }
      case "--no-rss":
        out.rss = false;
        break;
      case "--data-dir":
        out.dataDir = value();
        break;
      case "--json":
        out.json = value();
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === "--rss-child") {
    await rssChild(process.argv[3] ?? "{}");
  } else {
    const { json, ...options } = parseArgs(process.argv.slice(2));
    const result = await runPushBenchmark(options);
    console.log(formatPushBenchmark(result));
    console.log(JSON.stringify(result, null, 2));
    if (json) await writeFile(json, `${JSON.stringify(result, null, 2)}\n`);
  }
}
