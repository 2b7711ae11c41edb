/** Host key generation and fingerprints checked against ssh-keygen; authorized_keys line parsing. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findAuthorizedKey, parseAuthorizedKey } from "../../src/ssh/authorized-keys";
import { generateHostKey, hostKeyFingerprint } from "../../src/ssh/host-key";
import { type ClientKey, makeClientKey, runProcess } from "./support";

let dir: string;
let key: ClientKey;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "vast-sim-keys-"));
  key = await makeClientKey(dir, "client");
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("host keys", () => {
  it("generates a fresh ed25519 key each time, in a format ssh-keygen reads, with ssh-keygen's fingerprint", async () => {
    const pem = generateHostKey();
    expect(pem).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    expect(generateHostKey()).not.toBe(pem);
    const path = join(dir, "host");
    await writeFile(path, pem, { mode: 0o600 });
    const listed = await runProcess("ssh-keygen", ["-l", "-f", path]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(hostKeyFingerprint(pem));
    expect(listed.stdout).toContain("(ED25519)");
  });

  it("fingerprints an RSA key the same way ssh-keygen does", async () => {
    const path = join(dir, "rsa");
    const made = await runProcess("ssh-keygen", [
      "-q",
      "-t",
      "rsa",
      "-b",
      "2048",
      "-m",
      "PEM",
      "-N",
      "",
      "-f",
      path,
    ]);
    expect(made.code).toBe(0);
    const pem = await import("node:fs/promises").then((fs) => fs.readFile(path, "utf8"));
    const listed = await runProcess("ssh-keygen", ["-l", "-f", path]);
    expect(listed.stdout).toContain(hostKeyFingerprint(pem));
  });
});

describe("authorized keys", () => {
  it("parses lines with options and comments, and ignores junk", () => {
    expect(parseAuthorizedKey(key.publicLine)?.type).toBe("ssh-ed25519");
    expect(parseAuthorizedKey(`command="echo hi",no-pty ${key.publicLine}`)?.type).toBe("ssh-ed25519");
    expect(parseAuthorizedKey("# a comment")).toBeNull();
    expect(parseAuthorizedKey("")).toBeNull();
    expect(parseAuthorizedKey("ssh-ed25519 not-base64!!")).toBeNull();
  });

  it("matches only the same algorithm and key data", () => {
    const parsed = ssh2.utils.parseKey(key.publicLine);
    if (parsed instanceof Error || Array.isArray(parsed)) throw new Error("unexpected parse result");
    const offered = { algo: "ssh-ed25519", data: parsed.getPublicSSH() };
    expect(findAuthorizedKey(["junk", key.publicLine], offered)).not.toBeNull();
    expect(findAuthorizedKey([], offered)).toBeNull();
    expect(findAuthorizedKey([key.publicLine], { ...offered, algo: "ssh-rsa" })).toBeNull();
    const flipped = Buffer.from(offered.data);
    flipped[flipped.length - 1] = (flipped.at(-1) ?? 0) ^ 1;
    expect(findAuthorizedKey([key.publicLine], { ...offered, data: flipped })).toBeNull();
  });
});
