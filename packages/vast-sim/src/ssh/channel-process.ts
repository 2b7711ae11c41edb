/**
 * Joins a process in the instance to an SSH channel, as sshd does for exec and subsystems: channel data to
 * stdin (counted for the bandwidth ledger, and cut by the drop fault), stdout/stderr back, exit status
 * reported, and the process group ended when the client goes away before the process does.
 */
import type { ChildProcess } from "node:child_process";
import type { ServerChannel } from "ssh2";

export interface ChannelProcessOptions {
  /** Whether the process's stderr goes to the channel's stderr (exec) or only to the log (sftp-server). */
  forwardStderr: boolean;
  /**
   * Called for each chunk the client sends; returns how many of its bytes may pass. Fewer than the chunk
   * means the connection is being dropped: the rest is discarded.
   */
  admit(bytes: number): number;
  onStderr?(text: string): void;
}

/** How long a process may keep running after its client vanished and its stdin closed. */
const GRACE_MS = 500;

/** Signals the whole process group (the command and everything it started, unless it called setsid). */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Wires `child` to `channel`; resolves when the process has exited. */
export function bindProcessToChannel(
  child: ChildProcess,
  channel: ServerChannel,
  options: ChannelProcessOptions,
): Promise<void> {
  const stdin = child.stdin;
  const stdout = child.stdout;
  const stderr = child.stderr;
  let exited = false;

  stdin?.on("error", () => {}); // EPIPE when the process stops reading; the exit status tells the story
  channel.on("error", () => {}); // writes racing a vanished client; the close handler cleans up
  channel.stderr.on("error", () => {});

  channel.on("data", (chunk: Buffer) => {
    const allowed = options.admit(chunk.length);
    if (allowed <= 0 || !stdin || stdin.destroyed) return;
    const part = allowed < chunk.length ? chunk.subarray(0, allowed) : chunk;
    if (!stdin.write(part)) {
      channel.pause();
      stdin.once("drain", () => channel.resume());
    }
  });
  channel.on("end", () => stdin?.end());

  stdout?.pipe(channel, { end: false });
  if (options.forwardStderr) stderr?.pipe(channel.stderr, { end: false });
  else stderr?.on("data", (chunk: Buffer) => options.onStderr?.(chunk.toString()));

  channel.on("close", () => {
    if (exited) return;
    stdin?.end();
    const hangup = setTimeout(() => signalGroup(child, "SIGHUP"), GRACE_MS);
    const kill = setTimeout(() => signalGroup(child, "SIGKILL"), GRACE_MS * 4);
    child.once("close", () => {
      clearTimeout(hangup);
      clearTimeout(kill);
    });
  });

  return new Promise((resolve) => {
    child.once("error", (error) => {
      exited = true;
      channel.stderr.write(`vast-sim: cannot start command: ${error.message}\n`);
      finish(channel, 127, null);
      resolve();
    });
    child.once("close", (code: number | null, signal: NodeJS.Signals | null) => {
      exited = true;
      finish(channel, code, signal);
      resolve();
    });
  });
}

function finish(channel: ServerChannel, code: number | null, signal: NodeJS.Signals | null): void {
  if (channel.destroyed || !channel.writable) return;
  if (signal) channel.exit(signal.replace(/^SIG/, ""), false, "");
  else channel.exit(code ?? 255);
  channel.end();
}
