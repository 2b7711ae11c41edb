/**
 * Public-key authentication against the instance's current authorized keys, as sshd checks
 * `~/.ssh/authorized_keys`: same algorithm and key data, and a valid signature when one is sent.
 */
import { timingSafeEqual } from "node:crypto";
import ssh2, { type ParsedKey } from "ssh2";

// ssh2 is CommonJS; Node's ESM loader only sees its default export.
const { utils } = ssh2;

const KEY_PATTERN =
  /(?:^|\s)((?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp(?:256|384|521)))\s+([A-Za-z0-9+/]+={0,3})(?:\s|$)/;

/** Parses one authorized_keys line (options and comment allowed); null when it holds no usable key. */
export function parseAuthorizedKey(line: string): ParsedKey | null {
  const match = KEY_PATTERN.exec(line.trim());
  if (!match) return null;
  const parsed = utils.parseKey(`${match[1]} ${match[2]}`);
  if (parsed instanceof Error) return null;
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  return key ?? null;
}

export interface OfferedKey {
  algo: string;
  data: Buffer;
}

/** The authorized key matching what the client offered, or null. */
export function findAuthorizedKey(lines: readonly string[], offered: OfferedKey): ParsedKey | null {
  for (const line of lines) {
    const key = parseAuthorizedKey(line);
    if (!key || key.type !== offered.algo) continue;
    const data = key.getPublicSSH();
    if (data.length === offered.data.length && timingSafeEqual(data, offered.data)) return key;
  }
  return null;
}
