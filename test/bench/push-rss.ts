/**
 * Peak memory while pushing a ~1 GB dataset to a loopback sshd. Run:
 *   npm exec -- tsx test/bench/push-rss.ts [sizeMB]
 * Prints baseline and peak RSS (sampled every 20 ms), duration and throughput. The dataset mixes
 * 2 MB files (read whole, at most 8 in flight) and 100 MB files (streamed) so both paths run.
 */
import { execFile } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { localDatasetReader, pushDataset } from "../../packages/core/src/dataset";
import { connectSsh } from "../../packages/core/src/ssh";
import { startSshd } from "../support/sshd";

const totalMb = Number(process.argv[2] ?? 1024);
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

const local = await mkdtemp(join(tmpdir(), "push-rss-"));
const dataset = join(local, "dataset");
await mkdir(dataset);
const chunk = Buffer.alloc(2 * 1024 * 1024);
const bigFiles = 2;
const smallFiles = Math.max(1, Math.floor((totalMb - bigFiles * 100) / 2));
for (let i = 0; i < smallFiles; i++) {
  randomFillSync(chunk);
  await writeFile(join(dataset, `img-${i}.jpg`), chunk);
  await writeFile(join(dataset, `img-${i}.txt`), `caption ${i}`);
}
const big = Buffer.alloc(100 * 1024 * 1024);
for (let i = 0; i < bigFiles; i++) {
  randomFillSync(big);
  await writeFile(join(dataset, `big-${i}.png`), big);
}

const sshd = await startSshd();
const session = await connectSsh({ ...sshd });
globalThis.gc?.();
const baseline = process.memoryUsage().rss;
let peak = baseline;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 20);
const started = performance.now();
const result = await pushDataset(session, {
  jobId: "rss",
  workspaceRoot: sshd.workspaceRoot,
  reader: localDatasetReader(dataset),
});
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss);
console.log(
  JSON.stringify(
    {
      files: result.files,
      payload: mb(result.bytes),
      seconds: Number(seconds.toFixed(2)),
      throughput: `${mb(result.bytes / seconds)}/s`,
      rssBaseline: mb(baseline),
      rssPeak: mb(peak),
      rssGrowth: mb(peak - baseline),
    },
    null,
    2,
  ),
);
// The practical limit for the same data: OpenSSH client and GNU tar on both ends.
const tarStarted = performance.now();
await promisify(execFile)(
  "bash",
  [
    "-c",
    `tar c -C "$1" . | ssh ${sshd.sshArgs.map((a) => `'${a}'`).join(" ")} "$2@127.0.0.1" "mkdir -p '$3' && tar x -C '$3'"`,
    "rss",
    dataset,
    sshd.username,
    join(sshd.workspaceRoot, "tar-baseline"),
  ],
  { maxBuffer: 1024 * 1024 },
);
const tarSeconds = (performance.now() - tarStarted) / 1000;
console.log(`tar c | ssh tar x, same data: ${tarSeconds.toFixed(2)} s (${mb(result.bytes / tarSeconds)}/s)`);
await session.close();
await sshd.close();
await rm(local, { recursive: true, force: true });
