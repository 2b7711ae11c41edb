/**
 * Dataset push to a real OpenSSH sshd on loopback: our streaming packer (ssh2 + one tar stream)
 * against the practical limit (`tar c | ssh host tar x`) and the naive `scp -r`, on many small
 * files — the case where per-file round trips dominate. Run with `npm run bench`.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, test } from "vitest";
import { localDatasetReader, pushDataset } from "../../packages/core/src/dataset";
import { connectSsh } from "../../packages/core/src/ssh";
import { writeDataset } from "../../packages/core/test/dataset/fixtures";
import { startSshd, startTcpProxy } from "../support/sshd";

const run = promisify(execFile);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 1000);
/** Simulated round trip (through a delaying loopback proxy): BENCH_RTT_MS=40 npm run bench. */
const RTT_MS = Number(process.env.BENCH_RTT_MS ?? 0);

const sshd = await startSshd();
const proxy = RTT_MS > 0 ? await startTcpProxy(sshd.port, { latencyMs: RTT_MS / 2 }) : undefined;
const port = proxy?.port ?? sshd.port;
const session = await connectSsh({ ...sshd, port });
const local = await mkdtemp(join(tmpdir(), "push-bench-"));
const dataset = join(local, "dataset");
await writeDataset(dataset, { pairs: PAIRS, seed: 1, minBytes: 20_000, maxBytes: 60_000 });
let n = 0;
const target = () => join(sshd.workspaceRoot, `bench-${n++}`);
const sshOpts = sshd.sshArgs.filter((_, i, all) => all[i] !== "-p" && all[i - 1] !== "-p");

afterAll(async () => {
  await session.close();
  await proxy?.close();
  await sshd.close();
  await rm(local, { recursive: true, force: true });
});

const pushOurs = async () => {
  await pushDataset(session, {
    jobId: `bench-${n++}`,
    workspaceRoot: sshd.workspaceRoot,
    reader: localDatasetReader(dataset),
  });
};

const tarOverSsh = async () => {
  const dir = target();
  await run("bash", [
    "-c",
    `tar c -C "$1" . | ssh ${sshOpts.map((a) => `'${a}'`).join(" ")} -p "$2" "$3@127.0.0.1" "mkdir -p '$4' && tar x -C '$4'"`,
    "bench",
    dataset,
    String(port),
    sshd.username,
    dir,
  ]);
};

const scpRecursive = async () => {
  await run("scp", [
    "-q",
    "-r",
    ...sshOpts,
    "-P",
    String(port),
    dataset,
    `${sshd.username}@127.0.0.1:${target()}`,
  ]);
};

test(`push ${PAIRS * 2} small files (20–60 KB images + captions) to loopback sshd, RTT ${RTT_MS} ms`, {
  timeout: 600_000,
}, async ({ bench }) => {
  const results = await bench.compare(
    bench("pushDataset (ssh2, streamed tar + manifest, verified)", pushOurs),
    bench("tar c | ssh host tar x (OpenSSH, unverified)", tarOverSsh),
    bench("scp -r", scpRecursive),
    { iterations: Number(process.env.BENCH_ITERATIONS ?? 5), warmupIterations: RTT_MS > 0 ? 0 : 1, time: 0 },
  );
  for (const name of [
    "pushDataset (ssh2, streamed tar + manifest, verified)",
    "tar c | ssh host tar x (OpenSSH, unverified)",
    "scp -r",
  ] as const) {
    const { latency } = results.get(name);
    console.log(`${name}: mean ${latency.mean.toFixed(0)} ms, p50 ${latency.p50?.toFixed(0)} ms`);
  }
});
