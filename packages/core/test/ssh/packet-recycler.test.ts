import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSshd, type TestSshd } from "../../../../test/support/sshd";
import { connectSsh } from "../../src/ssh";
import { PacketRecycler, recycledPacketCount } from "../../src/ssh/packet-recycler";
import { seededBytes, seededRandom } from "../dataset/fixtures";

/** Stands in for ssh2's native AES-GCM cipher: same class name and shape, records what it is given. */
class AESGCMCipherBinding {
  readonly original: number[] = [];
  allocPacket(payloadLen: number): Buffer {
    this.original.push(payloadLen);
    return Buffer.alloc(payloadLen + 64);
  }
  encrypt(_packet: Buffer): void {}
}

const protocolWith = (cipher: unknown) => ({ _cipher: cipher });

describe("PacketRecycler", () => {
  it("lays packets out as ssh2's AES-GCM ciphers do, and reuses a slot only after its release", () => {
    const recycler = new PacketRecycler();
    const protocol = protocolWith(new AESGCMCipherBinding());
    expect(recycler.install(protocol)).toBe(true);
    const cipher = protocol._cipher as AESGCMCipherBinding;

    const first = cipher.allocPacket(100);
    // length field: everything after it except the tag; block-aligned; 4..19 bytes of padding.
    const padLen = first[4] as number;
    expect(padLen).toBeGreaterThanOrEqual(4);
    expect(padLen).toBeLessThan(20);
    expect(first.readUInt32BE(0)).toBe(1 + 100 + padLen);
    expect((4 + 1 + 100 + padLen - 4) % 16).toBe(0);
    expect(first.length).toBe(4 + 1 + 100 + padLen + 16);
    expect(recycler.owns(first)).toBe(true);

    const second = cipher.allocPacket(100);
    expect(second.buffer).not.toBe(first.buffer);
    // The padding is fresh random bytes for each packet.
    expect(second.subarray(105, 105 + padLen)).not.toEqual(first.subarray(105, 105 + padLen));

    recycler.release(first);
    const third = cipher.allocPacket(32 * 1024 + 9);
    expect(third.buffer).toBe(first.buffer);
    expect(cipher.original).toEqual([]);
    expect(recycler.allocated).toBe(3);
    expect(recycler.recycled).toBe(1);
  });

  it("hands a packet larger than a slot to ssh2's own allocation", () => {
    const recycler = new PacketRecycler();
    const protocol = protocolWith(new AESGCMCipherBinding());
    recycler.install(protocol);
    const cipher = protocol._cipher as AESGCMCipherBinding;
    const big = cipher.allocPacket(40 * 1024);
    expect(cipher.original).toEqual([40 * 1024]);
    expect(recycler.owns(big)).toBe(false);
  });

  it("follows the cipher a handshake or a rekey puts in place, and leaves other ciphers alone", () => {
    const recycler = new PacketRecycler();
    class OtherCipher extends AESGCMCipherBinding {}
    const protocol = protocolWith(new OtherCipher());
    expect(recycler.install(protocol)).toBe(true);
    (protocol._cipher as OtherCipher).allocPacket(10);
    expect(recycler.allocated).toBe(0);

    protocol._cipher = new AESGCMCipherBinding();
    (protocol._cipher as AESGCMCipherBinding).allocPacket(10);
    expect(recycler.allocated).toBe(1);
  });

  it("changes nothing when ssh2's protocol object is not what it expects", () => {
    const recycler = new PacketRecycler();
    expect(recycler.install(undefined)).toBe(false);
    expect(recycler.install({})).toBe(false);
    const frozen = Object.freeze({ _cipher: new AESGCMCipherBinding() });
    expect(recycler.install(frozen)).toBe(false);
    expect(recycler.owns(Buffer.alloc(10))).toBe(false);
  });
});

describe("an SSH session over a real sshd", () => {
  let sshd: TestSshd;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.close();
  });

  it("recycles its packets when ssh2's native AES-GCM is in use, and every byte arrives intact", async () => {
    const { bindingAvailable: nativeCrypto } = createRequire(import.meta.url)(
      "ssh2/lib/protocol/crypto.js",
    ) as { bindingAvailable: boolean };
    const data = seededBytes(seededRandom(7), 6 * 1024 * 1024);
    const before = recycledPacketCount();
    const session = await connectSsh({ ...sshd });
    try {
      const result = await session.exec("sha256sum", { stdin: Readable.from([data]) });
      expect(result.exitCode).toBe(0);
      expect(result.stdout.split(" ")[0]).toBe(createHash("sha256").update(data).digest("hex"));
    } finally {
      await session.close();
    }
    const recycled = recycledPacketCount() - before;
    // 6 MiB in packets of at most 32 KiB: ~190 of them, all but the last few back from the socket.
    if (nativeCrypto) expect(recycled).toBeGreaterThan(150);
    else expect(recycled).toBe(0);
  });
});
