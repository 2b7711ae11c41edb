import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  freePort,
  startSshd,
  startTcpProxy,
  type TcpProxy,
  type TestSshd,
} from "../../../../test/support/sshd";
import { createRecordingLogger } from "../../src/observability";
import {
  connectSsh,
  probeSsh,
  SshConnectError,
  SshHostKeyMismatchError,
  type SshSession,
  shellCommand,
} from "../../src/ssh";

const fastRetry = { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 };

describe("SSH transport against a real sshd", () => {
  let sshd: TestSshd;
  let session: SshSession;

  beforeAll(async () => {
    sshd = await startSshd();
    session = await connectSsh({ ...sshd, retry: fastRetry });
  });
  afterAll(async () => {
    await session?.close();
    await sshd?.close();
  });

  it("exposes the server's host-key fingerprint (same as ssh-keygen -l)", () => {
    expect(session.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint);
    expect(session.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it("runs a command and returns exit code, stdout and stderr", async () => {
    const result = await session.exec("echo out; echo err >&2; exit 3");
    expect(result).toMatchObject({ exitCode: 3, stdout: "out\n", stderr: "err\n" });
  });

  it("streams output to callbacks and bounds the captured text", async () => {
    let streamed = 0;
    const result = await session.exec("head -c 300000 /dev/zero", {
      maxCaptureBytes: 1000,
      onStdout: (chunk) => {
        streamed += chunk.length;
      },
    });
    expect(streamed).toBe(300_000);
    expect(result.stdout.length).toBe(1000);
    expect(result.stdoutTruncated).toBe(true);
  });

  it("pipes a Readable into remote stdin", async () => {
    const data = Buffer.alloc(2 * 1024 * 1024, 7);
    const result = await session.exec("wc -c", {
      stdin: Readable.from([data.subarray(0, 1e6), data.subarray(1e6)]),
    });
    expect(result.stdout.trim()).toBe(String(data.length));
  });

  it("a failing stdin source rejects with its own error instead of sending EOF", async () => {
    const source = new Readable({ read() {} });
    source.push(Buffer.from("partial input"));
    setTimeout(() => source.destroy(new Error("source broke")), 50);
    await expect(session.exec("cat > /dev/null; echo finished", { stdin: source })).rejects.toThrow(
      "source broke",
    );
    // The session stays usable afterwards.
    expect((await session.exec("echo ok")).stdout).toBe("ok\n");
  });

  it("uploads and downloads over SFTP", async () => {
    const path = `${sshd.workspaceRoot}/sftp-roundtrip.bin`;
    const data = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));
    const { bytes } = await session.sftpUpload(path, Readable.from([data]));
    expect(bytes).toBe(data.length);
    const { stream, size } = await session.sftpDownload(path);
    expect(size).toBe(data.length);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it("aborts a running command on signal", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop")), 100);
    await expect(session.exec("sleep 20", { signal: controller.signal })).rejects.toThrow("stop");
  });

  it("quoted values reach the remote shell literally", async () => {
    const hostile = `a'b"c $(id) \`id\` ; rm -rf / \n x`;
    const result = await session.exec(shellCommand`printf %s ${hostile}`);
    expect(result.stdout).toBe(hostile);
  });

  it("pins the host key: a matching key connects, a different one is refused without retry", async () => {
    const ok = await probeSsh({ ...sshd, expectedHostKey: sshd.hostKeyFingerprint, retry: fastRetry });
    expect(ok.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint);
    const logger = createRecordingLogger();
    const wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const error = await connectSsh({ ...sshd, expectedHostKey: wrong, retry: fastRetry, logger }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(SshHostKeyMismatchError);
    expect(error.actual).toBe(sshd.hostKeyFingerprint);
    expect(logger.records.filter((r) => r.message.includes("retrying"))).toHaveLength(0);
  });

  it("does not retry bad credentials, and never leaks the private key", async () => {
    const logger = createRecordingLogger();
    const { privateKey: otherKey } = await unknownKey();
    const error = await connectSsh({ ...sshd, privateKey: otherKey, retry: fastRetry, logger }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(SshConnectError);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/authentication/i);
    const everything = JSON.stringify([String(error), error.stack, logger.records]);
    const keyBody = otherKey.split("\n")[1] ?? "";
    expect(keyBody.length).toBeGreaterThan(10);
    expect(everything).not.toContain(keyBody);
    const garbage = `-----BEGIN OPENSSH PRIVATE KEY-----\nsecretsecretsecret${"x".repeat(40)}\n-----END OPENSSH PRIVATE KEY-----`;
    const parseError = await connectSsh({ ...sshd, privateKey: garbage, retry: fastRetry }).catch((e) => e);
    expect(parseError).toBeInstanceOf(SshConnectError);
    expect(String(parseError)).not.toContain("secretsecretsecret");
  });
});

/** A syntactically valid key that no server knows. */
async function unknownKey() {
  const { generateKeyPairSync } = await import("node:crypto");
  return generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
}

describe("connect retries", () => {
  it("retries while the port refuses, then connects once something listens", async () => {
    const sshd = await startSshd();
    const port = await freePort();
    const logger = createRecordingLogger();
    let proxy: TcpProxy | undefined;
    const timer = setTimeout(async () => {
      proxy = await startTcpProxy(sshd.port, { listenPort: port });
    }, 150);
    try {
      const session = await connectSsh({
        ...sshd,
        port,
        retry: { attempts: 10, baseDelayMs: 40, maxDelayMs: 80 },
        random: () => 0.5,
        logger,
      });
      expect(session.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint);
      expect((await session.exec("echo hi")).stdout).toBe("hi\n");
      await session.close();
      const retries = logger.records.filter((r) => r.message === "ssh connect failed, retrying");
      expect(retries.length).toBeGreaterThan(0);
      expect(String(retries[0]?.attributes?.error)).toMatch(/ECONNREFUSED/);
      // Connection logs carry host, port, attempt and fingerprint — never key material.
      const keyBody = sshd.privateKey.split("\n")[1] ?? "";
      expect(keyBody.length).toBeGreaterThan(10);
      expect(JSON.stringify(logger.records)).not.toContain(keyBody);
      expect(logger.records.some((r) => r.attributes?.hostKeyFingerprint === sshd.hostKeyFingerprint)).toBe(
        true,
      );
    } finally {
      clearTimeout(timer);
      await proxy?.close();
      await sshd.close();
    }
  });

  it("gives up after the configured attempts with a retryable error", async () => {
    const port = await freePort();
    const error = await connectSsh({
      host: "127.0.0.1",
      port,
      privateKey: (await unknownKey()).privateKey,
      retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    }).catch((e) => e);
    expect(error).toBeInstanceOf(SshConnectError);
    expect(error.attempts).toBe(3);
    expect(error.retryable).toBe(true);
  });
});

describe("a connection that dies under a pending SFTP request", () => {
  let sshd: TestSshd;
  let proxy: TcpProxy;
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);

  beforeAll(async () => {
    sshd = await startSshd();
    proxy = await startTcpProxy(sshd.port);
    process.on("uncaughtException", onUncaught);
  });
  afterAll(async () => {
    process.off("uncaughtException", onUncaught);
    await proxy?.close();
    await sshd?.close();
  });

  it("a download whose handle close never gets an answer is logged, not thrown", async () => {
    const path = `${sshd.workspaceRoot}/close-pending.bin`;
    const data = Buffer.alloc(50_000, 7);
    const logger = createRecordingLogger();
    const session = await connectSsh({ ...sshd, port: proxy.port, retry: fastRetry, logger });
    await session.sftpUpload(path, Readable.from([data]));
    const { stream } = await session.sftpDownload(path);
    // The last byte read sends the CLOSE for the remote handle; the "instance" vanishes before
    // the answer, as when a destroy races the end of a download.
    stream.once("end", () => void proxy.close());
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    await until(() => session.closed);
    await until(() => logger.records.some((r) => r.message === "sftp download error"));
    const record = logger.records.find((r) => r.message === "sftp download error");
    expect(record?.level).toBe("warn");
    expect(String(record?.attributes?.error)).toMatch(/No response from server/);
    expect(uncaught).toEqual([]);
    await session.close();
  });
});

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
