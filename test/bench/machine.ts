/** The facts a benchmark figure means nothing without: the machine, its load, the code measured. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";

export interface MachineFacts {
  date: string;
  cpuModel: string;
  /** Logical CPUs the OS reports, and how many Node may use (cgroup limits). */
  cpus: number;
  availableParallelism: number;
  memoryGiB: number;
  os: string;
  kernel: string;
  node: string;
  /** 1, 5 and 15 minute load averages when the run started. */
  loadAverageAtStart: [number, number, number];
  gitCommit: string | null;
  /** Files changed but not committed when the run started: the figures are for that tree. */
  gitDirty: boolean;
}

export function machineFacts(repoRoot: string): MachineFacts {
  const cpus = os.cpus();
  const load = os.loadavg().map((n) => Math.round(n * 100) / 100) as [number, number, number];
  return {
    date: new Date().toISOString(),
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: osName(),
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverageAtStart: load,
    gitCommit: git(repoRoot, ["rev-parse", "--short=12", "HEAD"]),
    gitDirty: (git(repoRoot, ["status", "--porcelain", "--untracked-files=no"]) ?? "") !== "",
  };
}

function osName(): string {
  try {
    const release = readFileSync("/etc/os-release", "utf8");
    return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(release)?.[1] ?? os.type();
  } catch {
    return os.type();
  }
}

function git(cwd: string, args: string[]): string | null {
  try {
    return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
}

export function formatMachine(m: MachineFacts): string[] {
  return [
    `- Date: ${m.date}; commit ${m.gitCommit ?? "unknown"}${m.gitDirty ? " with uncommitted changes" : ""}`,
    `- CPU: ${m.cpuModel}, ${m.cpus} logical CPUs (${m.availableParallelism} available to Node); memory ${m.memoryGiB} GiB`,
    `- OS: ${m.os} (${m.kernel}); Node ${m.node}`,
    `- Load average at start (1/5/15 min): ${m.loadAverageAtStart.join(" / ")}`,
  ];
}
