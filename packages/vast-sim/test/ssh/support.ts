/**
 * Test support for the instance SSH server: client key pairs from ssh-keygen, a server with live,
 * mutable authorized keys and faults, and runners for the system's OpenSSH clients.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  generateHostKey,
  type InstanceSshServer,
  type InstanceSshServerExtraOptions,
  type InstanceSshServerOptions,
  prepareInstanceFolder,
  type SimFaultsForSsh,
  startInstanceSshServer,
} from "../../src/ssh";

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (killed after timeoutMs), feeding `input` to its stdin. */
export function runProcess(
  command: string,
  args: readonly string[],
  options: { input?: string | Buffer; timeoutMs?: number } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 15_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(options.input ?? "");
  });
}

export interface ClientKey {
  path: string;
  publicLine: string;
}

export async function makeClientKey(dir: string, name: string): Promise<ClientKey> {
  const path = join(dir, name);
  const result = await runProcess("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path]);
  if (result.code !== 0) throw new Error(`ssh-keygen failed: ${result.stderr}`);
  return { path, publicLine: (await readFile(`${path}.pub`, "utf8")).trim() };
}

/** Options for the OpenSSH clients: never prompt, never remember the host, fail fast. */
export function clientOptions(key: ClientKey, extra: Record<string, string> = {}): string[] {
  const options: Record<string, string> = {
    IdentitiesOnly: "yes",
    StrictHostKeyChecking: "no",
    UserKnownHostsFile: "/dev/null",
    BatchMode: "yes",
    ConnectTimeout: "5",
    LogLevel: "ERROR",
    ...extra,
  };
  return ["-i", key.path, ...Object.entries(options).flatMap(([name, value]) => ["-o", `${name}=${value}`])];
}

export interface SshOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  extraArgs?: string[];
}

export function ssh(
  server: InstanceSshServer,
  key: ClientKey,
  command: string | null,
  options: SshOptions = {},
): Promise<ProcessResult> {
  const args = [
    "-p",
    String(server.port),
    ...clientOptions(key),
    ...(options.extraArgs ?? []),
    `root@${server.host}`,
    ...(command === null ? [] : [command]),
  ];
  return runProcess("ssh", args, options);
}

export interface TestInstance {
  server: InstanceSshServer;
  dir: string;
  rootDir: string;
  hostKey: string;
  authorized: string[];
  faults: SimFaultsForSsh;
  bytes: { total: number };
  key: ClientKey;
  otherKey: ClientKey;
  /** Runs `command` (null: a shell) with the system `ssh` client and the authorized key. */
  exec(command: string | null, options?: SshOptions): Promise<ProcessResult>;
  cleanup(): Promise<void>;
}

/** A running instance server whose first client key is authorized; `authorized` and `faults` are live. */
export async function startTestInstance(
  overrides: Partial<InstanceSshServerOptions> & InstanceSshServerExtraOptions = {},
): Promise<TestInstance> {
  const dir = await mkdtemp(join(tmpdir(), "vast-sim-ssh-test-"));
  const rootDir = join(dir, "instance");
  const key = await makeClientKey(dir, "client");
  const otherKey = await makeClientKey(dir, "other");
  const authorized = [key.publicLine];
  const faults: SimFaultsForSsh = { refuseConnections: false, dropAfterBytes: null };
  const bytes = { total: 0 };
  const hostKey = generateHostKey();
  await prepareInstanceFolder(rootDir);
  const server = await startInstanceSshServer({
    instanceId: 4242,
    rootDir,
    hostKey,
    authorizedKeys: () => authorized,
    gpu: { name: "RTX 4090", count: 2, ramMb: 24564 },
    faults: () => faults,
    onBytesReceived: (n) => {
      bytes.total += n;
    },
    ...overrides,
  }).catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });
  return {
    server,
    dir,
    rootDir,
    hostKey,
    authorized,
    faults,
    bytes,
    key,
    otherKey,
    exec: (command, options) => ssh(server, key, command, options),
    cleanup: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `sftp -b` with the authorized key: `batch` holds one sftp command a line. */
export async function sftpBatch(t: TestInstance, batch: string): Promise<ProcessResult> {
  const batchFile = join(await mkdtemp(join(t.dir, "sftp-")), "batch");
  await writeFile(batchFile, batch);
  const target = `root@${t.server.host}`;
  return runProcess("sftp", ["-P", String(t.server.port), "-b", batchFile, ...clientOptions(t.key), target]);
}
