/**
 * Host keys for simulated instances: generation with node:crypto, conversion to a format ssh2 parses,
 * and the "SHA256:..." fingerprint OpenSSH prints for them.
 */
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject, randomInt } from "node:crypto";
import ssh2 from "ssh2";

// ssh2 is CommonJS; Node's ESM loader only sees its default export.
const { utils } = ssh2;

/** A new ed25519 private key, in OpenSSH's PEM-armoured format (the one `ssh-keygen` writes). */
export function generateHostKey(): string {
  const { privateKey } = generateKeyPairSync("ed25519");
  return ed25519ToOpenSsh(privateKey);
}

/**
 * ssh2 reads OpenSSH and PKCS#1 keys but not PKCS#8 ("BEGIN PRIVATE KEY", what node:crypto exports by
 * default), so such keys are converted; anything ssh2 already parses is returned unchanged.
 */
export function toSsh2HostKey(pem: string): string {
  if (!(utils.parseKey(pem) instanceof Error)) return pem;
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType === "ed25519") return ed25519ToOpenSsh(key);
  if (key.asymmetricKeyType === "rsa") return key.export({ type: "pkcs1", format: "pem" }).toString();
  throw new Error(`unsupported host key type: ${key.asymmetricKeyType ?? "unknown"}`);
}

/** "SHA256:<base64 without padding>" of the public key blob, as `ssh-keygen -lf` and `ssh` print it. */
export function hostKeyFingerprint(pem: string): string {
  const parsed = utils.parseKey(toSsh2HostKey(pem));
  if (parsed instanceof Error) throw parsed;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key) throw new Error("empty host key");
  const digest = createHash("sha256").update(key.getPublicSSH()).digest("base64");
  return `SHA256:${digest.replace(/=+$/, "")}`;
}

function sshString(data: Buffer | string): Buffer {
  const body = typeof data === "string" ? Buffer.from(data) : data;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return Buffer.concat([length, body]);
}

function uint32(value: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32BE(value);
  return buf;
}

/** Encodes an ed25519 key as an unencrypted "openssh-key-v1" container (PROTOCOL.key in OpenSSH). */
function ed25519ToOpenSsh(key: KeyObject): string {
  const jwk = key.export({ format: "jwk" });
  if (!jwk.d || !jwk.x) throw new Error("not an ed25519 private key");
  const seed = Buffer.from(jwk.d, "base64url");
  const pub = Buffer.from(jwk.x, "base64url");
  const publicBlob = Buffer.concat([sshString("ssh-ed25519"), sshString(pub)]);
  const check = randomInt(0, 2 ** 32 - 1);
  let privateSection = Buffer.concat([
    uint32(check),
    uint32(check),
    sshString("ssh-ed25519"),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString("vast-sim host key"),
  ]);
  const padding: number[] = [];
  for (let i = 1; (privateSection.length + padding.length) % 8 !== 0; i++) padding.push(i);
  privateSection = Buffer.concat([privateSection, Buffer.from(padding)]);
  const body = Buffer.concat([
    Buffer.from("openssh-key-v1\0"),
    sshString("none"),
    sshString("none"),
    sshString(""),
    uint32(1),
    sshString(publicBlob),
    sshString(privateSection),
  ]);
  const lines = body.toString("base64").match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`;
}
