/**
 * An SSH session to a rented instance (ssh2 Client): connect with retries and backoff, host-key
 * pinning, exec with exit code and streamed output, SFTP upload/download. The private key is
 * only handed to ssh2; it never appears in errors or log attributes.
 *
 * Every ssh2 emitter gets an `error` listener: a connection that dies under a pending request
 * (an instance destroyed while an SFTP handle is closing) rejects the call that is waiting, or,
 * when nothing waits any more, is logged — never an uncaught exception.
 */
import { Socket } from "node:net";
import { type Readable, Transform, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Client, type ClientChannel, type SFTPWrapper } from "ssh2";
import { type Clock, systemClock } from "../clock";
import { errorText, type Logger, redactSecrets, silentLogger } from "../observability";
import { SshChannelError, SshConnectError, SshHostKeyMismatchError } from "./errors";
import { sshFingerprint } from "./fingerprint";
import { PacketRecycler } from "./packet-recycler";
import { backoffDelay, defaultSshRetry, isRetryableConnectError, type SshRetryPolicy } from "./retry";

/** Where an instance answers SSH, and the host key it must present. */
export interface SshTarget {
  host: string;
  port: number;
  /** `SHA256:...` pinned at first contact; a different key is refused, never retried. */
  expectedHostKey?: string;
}

export interface ConnectSshOptions extends SshTarget {
  /** Vast images log in as root. */
  username?: string;
  privateKey: string | Buffer;
  retry?: SshRetryPolicy;
  readyTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  clock?: Clock;
  logger?: Logger;
  /** Jitter source for backoff; injected for deterministic tests. */
  random?: () => number;
  signal?: AbortSignal;
}

export interface ExecOptions {
  stdin?: Readable;
  signal?: AbortSignal;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Bytes of each stream kept in the result (the head); streamed callbacks see everything. */
  maxCaptureBytes?: number;
}

export interface ExecResult {
  /** null when the remote process died of a signal or the channel closed without a status. */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
}

export interface ExecStream {
  /** The remote command's stdin; end it to send EOF. */
  stdin: Writable;
  result: Promise<ExecResult>;
  /** Kills the remote command (best effort) and closes the channel without EOF. */
  abort(reason?: unknown): void;
}

export interface SshSession {
  readonly hostKeyFingerprint: string;
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  execStream(command: string, options?: Omit<ExecOptions, "stdin">): Promise<ExecStream>;
  sftpUpload(remotePath: string, source: Readable, options?: { mode?: number }): Promise<{ bytes: number }>;
  sftpDownload(remotePath: string): Promise<{ stream: Readable; size: number }>;
  readonly closed: boolean;
  close(): Promise<void>;
}

const DEFAULT_CAPTURE = 1024 * 1024;

export async function connectSsh(options: ConnectSshOptions): Promise<SshSession> {
  const retry = options.retry ?? defaultSshRetry;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const where = { host: options.host, port: options.port };
  let lastError: unknown;
  for (let attempt = 1; attempt <= retry.attempts; attempt++) {
    options.signal?.throwIfAborted();
    try {
      const { client, fingerprint } = await connectOnce(options);
      logger.info("ssh connected", { ...where, attempt, hostKeyFingerprint: fingerprint });
      return new Ssh2Session(client, fingerprint, logger, where);
    } catch (error) {
      if (error instanceof SshHostKeyMismatchError) {
        logger.error("ssh host key mismatch", { ...where, expected: error.expected, actual: error.actual });
        throw error;
      }
      lastError = error;
      const message = safeMessage(error, options.privateKey);
      const retryable = isRetryableConnectError(error);
      if (!retryable) {
        throw new SshConnectError(
          `SSH to ${options.host}:${options.port} failed: ${message}`,
          attempt,
          false,
        );
      }
      if (attempt === retry.attempts) break;
      const delay = backoffDelay(retry, attempt, options.random);
      logger.warn("ssh connect failed, retrying", { ...where, attempt, delayMs: delay, error: message });
      await clock.sleep(delay, options.signal);
    }
  }
  throw new SshConnectError(
    `SSH to ${options.host}:${options.port} failed after ${retry.attempts} attempts: ${safeMessage(lastError, options.privateKey)}`,
    retry.attempts,
    true,
  );
}

function safeMessage(error: unknown, privateKey: string | Buffer): string {
  return redactSecrets(errorText(error), [
    typeof privateKey === "string" ? privateKey : privateKey.toString("utf8"),
  ]);
}

function connectOnce(options: ConnectSshOptions): Promise<{ client: Client; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let fingerprint: string | undefined;
    let mismatch = false;
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      client.end();
      if (mismatch && fingerprint && options.expectedHostKey) {
        reject(new SshHostKeyMismatchError(options.host, options.port, options.expectedHostKey, fingerprint));
      } else {
        // ssh2 errors carry `level`/`code`; keep them so retry classification works on the copy.
        const source = error instanceof Error ? error : new Error(String(error));
        const copy = Object.assign(new Error(safeMessage(source, options.privateKey)), {
          code: (source as { code?: string }).code,
          level: (source as { level?: string }).level,
        });
        reject(copy);
      }
    };
    client.on("ready", () => {
      if (settled) return;
      settled = true;
      // After the handshake, errors end up on exec/sftp calls; the session logs the connection's own.
      client.removeAllListeners("error");
      resolve({ client, fingerprint: fingerprint ?? "" });
    });
    client.on("error", fail);
    client.on("close", () =>
      fail(Object.assign(new Error("connection closed before handshake"), { level: "protocol" })),
    );
    try {
      // Our own socket (ssh2's documented `sock` option) so its writes can be batched.
      const sock = new Socket();
      sock.connect({ host: options.host, port: options.port });
      const recycler = new PacketRecycler();
      batchWrites(sock, recycler);
      client.connect({
        sock,
        host: options.host,
        port: options.port,
        username: options.username ?? "root",
        privateKey: options.privateKey,
        readyTimeout: options.readyTimeoutMs ?? 20_000,
        keepaliveInterval: options.keepaliveIntervalMs ?? 15_000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          fingerprint = sshFingerprint(key);
          if (options.expectedHostKey && fingerprint !== options.expectedHostKey) {
            mismatch = true;
            return false;
          }
          return true;
        },
      });
      // ssh2's protocol object exists once connect() has returned, before any packet is encrypted.
      recycler.install((client as unknown as { _protocol?: unknown })._protocol);
    } catch (error) {
      // Synchronous throws are configuration errors (e.g. an unparsable key): not retryable.
      settled = true;
      reject(
        Object.assign(new Error(safeMessage(error, options.privateKey)), { level: "client-configuration" }),
      );
    }
  });
}

/**
 * Gathers the socket writes made in one tick into one `writev`. ssh2 writes each SSH packet (at
 * most 32 KiB of data: OpenSSH's channel packet size) separately, and each socket write costs Node
 * a round through its stream and libuv machinery; ssh2 produces the packets of a chunk (or of a
 * window adjustment) synchronously, so they now leave together. Installed after `connect()`, which
 * resets a socket's `write`.
 */
function batchWrites(sock: Socket, recycler: PacketRecycler): void {
  const write = sock.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    sock.uncork();
  };
  sock.write = function (this: Socket, ...args: Parameters<Socket["write"]>) {
    if (!corked) {
      corked = true;
      sock.cork();
      process.nextTick(uncork);
    }
    const [chunk] = args;
    // ssh2 writes its packets without a callback: a recycled one goes back once the socket is done with it.
    if (args.length === 1 && recycler.owns(chunk)) {
      return Reflect.apply(write, this, [chunk, () => recycler.release(chunk)]);
    }
    return write.apply(this, args);
  } as Socket["write"];
}

class Ssh2Session implements SshSession {
  #closed = false;

  constructor(
    private readonly client: Client,
    readonly hostKeyFingerprint: string,
    private readonly logger: Logger,
    private readonly where: { host: string; port: number },
  ) {
    client.once("close", () => {
      this.#closed = true;
    });
    client.on("error", (error: Error) => this.lateError("ssh connection error", error));
    // Nagle's algorithm plus delayed ACKs stalls small interactive writes (exec requests,
    // the tail of a stream) by tens of milliseconds each; bulk writes are coalesced anyway.
    client.setNoDelay(true);
  }

  get closed(): boolean {
    return this.#closed;
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const { stdin, ...rest } = options;
    const stream = await this.execStream(command, rest);
    if (!stdin) {
      stream.stdin.end();
      return stream.result;
    }
    let sourceError: unknown;
    stdin.on("error", (error) => {
      sourceError = error;
      // A failing source must not look like a complete input: kill instead of sending EOF.
      stream.abort(error);
    });
    stdin.pipe(stream.stdin);
    try {
      return await stream.result;
    } catch (error) {
      throw sourceError ?? error;
    } finally {
      stdin.unpipe(stream.stdin);
    }
  }

  execStream(command: string, options: Omit<ExecOptions, "stdin"> = {}): Promise<ExecStream> {
    const limit = options.maxCaptureBytes ?? DEFAULT_CAPTURE;
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new SshChannelError("SSH session is closed"));
      options.signal?.throwIfAborted();
      this.client.exec(command, (error, channel) => {
        if (error) return reject(new SshChannelError(`could not start remote command: ${error.message}`));
        const out = capture(limit, options.onStdout);
        const err = capture(limit, options.onStderr);
        channel.on("data", out.push);
        channel.stderr.on("data", err.push);
        let exitCode: number | null = null;
        let signal: string | null = null;
        let aborted: unknown;
        channel.on("exit", (code: number | null, sig?: string) => {
          exitCode = typeof code === "number" ? code : null;
          signal = sig ?? null;
        });
        let rejectResult: (reason: unknown) => void = () => {};
        const abort = (reason?: unknown) => {
          if (aborted !== undefined) return;
          aborted = reason ?? new Error("remote command aborted");
          // Settle now: sshd may only confirm the channel close once the remote process exits.
          rejectResult(aborted);
          try {
            channel.signal("KILL");
          } catch {
            // Servers may refuse signal requests; closing the channel still ends the command's input.
          }
          channel.close();
        };
        const onAbort = () => abort(options.signal?.reason);
        options.signal?.addEventListener("abort", onAbort, { once: true });
        const result = new Promise<ExecResult>((res, rej) => {
          rejectResult = rej;
          channel.on("error", (e: Error) => {
            aborted ??= new SshChannelError(`remote command channel failed: ${e.message}`);
          });
          channel.on("close", () => {
            options.signal?.removeEventListener("abort", onAbort);
            if (aborted !== undefined) return rej(aborted);
            // ssh2 emits the client's close before closing its channels, so a dropped connection
            // is visible here: make it an error, not a silent null exit.
            if (exitCode === null && signal === null && this.#closed) {
              return rej(new SshChannelError("SSH connection lost while the remote command ran"));
            }
            res({
              exitCode,
              signal,
              stdout: out.text(),
              stderr: err.text(),
              stdoutTruncated: out.truncated(),
              stderrTruncated: err.truncated(),
            });
          });
        });
        resolve({ stdin: channel as ClientChannel, result, abort });
      });
    });
  }

  async sftpUpload(remotePath: string, source: Readable, options: { mode?: number } = {}) {
    const sftp = await this.sftp();
    try {
      let bytes = 0;
      const count = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          bytes += chunk.length;
          callback(null, chunk);
        },
      });
      const target = sftp.createWriteStream(remotePath, { mode: options.mode ?? 0o644 });
      // ssh2 finishes the stream before the server has confirmed closing the remote file; the
      // upload is done (and the session may be closed) only once that confirmation is in.
      const closed = handleClosed(target);
      // Observed below; when the pipeline fails first, its error is the one that matters.
      closed.catch(() => {});
      await pipeline(source, count, target);
      await closed;
      return { bytes };
    } finally {
      sftp.end();
    }
  }

  async sftpDownload(remotePath: string): Promise<{ stream: Readable; size: number }> {
    const sftp = await this.sftp();
    try {
      const stats = await new Promise<{ size: number }>((res, rej) =>
        sftp.stat(remotePath, (e, s) =>
          e ? rej(new SshChannelError(`stat ${remotePath}: ${e.message}`)) : res(s),
        ),
      );
      const stream = sftp.createReadStream(remotePath);
      stream.once("close", () => sftp.end());
      // The handle is closed after the last byte is read; if the connection dies first, the
      // consumer is usually gone, so the error is logged here instead of going uncaught.
      stream.on("error", (error: Error) => {
        this.lateError("sftp download error", error, { path: remotePath });
        sftp.end();
      });
      return { stream, size: stats.size };
    } catch (error) {
      sftp.end();
      throw error;
    }
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.client.once("close", () => resolve());
      this.client.end();
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new SshChannelError("SSH session is closed"));
      this.client.sftp((error, sftp) => {
        if (error) return reject(new SshChannelError(`could not open SFTP: ${error.message}`));
        // Protocol errors are also reported to the pending requests; this only keeps them from throwing.
        sftp.on("error", (e: Error) => this.lateError("sftp channel error", e));
        resolve(sftp);
      });
    });
  }

  /** An error nobody is waiting for: worth a log line, never a crash. */
  private lateError(message: string, error: Error, attributes: Record<string, unknown> = {}): void {
    this.logger.warn(message, { ...this.where, ...attributes, error: error.message });
  }
}

/** Resolves when ssh2 has closed the remote handle of an SFTP write stream; rejects if that failed. */
function handleClosed(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once("close", () => resolve());
    // `on`, not `once`: a destroyed stream can report a second error after the first.
    stream.on("error", reject);
  });
}

function capture(limit: number, onChunk?: (chunk: Buffer) => void) {
  const chunks: Buffer[] = [];
  let kept = 0;
  let dropped = false;
  return {
    push: (chunk: Buffer) => {
      onChunk?.(chunk);
      if (kept >= limit) {
        dropped = true;
        return;
      }
      const slice = chunk.length > limit - kept ? chunk.subarray(0, limit - kept) : chunk;
      if (slice.length < chunk.length) dropped = true;
      chunks.push(slice);
      kept += slice.length;
    },
    text: () => Buffer.concat(chunks).toString("utf8"),
    truncated: () => dropped,
  };
}
