/**
 * Recycles the buffers of ssh2's outgoing packets on the AES-GCM path with the native binding
 * (the cipher OpenSSH negotiates with us by default). ssh2 allocates a fresh buffer for every packet —
 * 32 KiB of channel data at most, OpenSSH's channel packet size, so about 10,000 per 300 MB pushed —
 * and fills each packet's 4–19 bytes of padding with its own `randomFillSync` call. On a push of
 * thousands of small files the garbage collection of those buffers and those calls were about a
 * fifth of the push's CPU in Node (measured with `--cpu-prof` on test/bench/push.ts).
 *
 * Here a packet is a view of a fixed-size slot; the binding encrypts it in place and hands it to
 * the socket once, whole, so the slot goes back to the free list when the socket reports the write
 * done (the kernel has copied it). Padding comes from a block of random bytes refilled in bulk; each
 * byte is used once. Only ssh2's `AESGCMCipherBinding` is touched, identified by class name and
 * shape: any other cipher, or an ssh2 whose internals differ, keeps ssh2's own allocation, so a
 * change in ssh2 costs speed, never correctness.
 */
import { randomFillSync } from "node:crypto";

/** Payload (≤ 32 KiB of data plus the message header), length, padding and the 16-byte tag. */
const SLOT_BYTES = 33 * 1024;
/** Free slots kept; more are allocated while the socket holds many (they are freed, not kept). */
const MAX_FREE_SLOTS = 128;
const RANDOM_BLOCK_BYTES = 64 * 1024;
const GCM_TAG_BYTES = 16;
const BLOCK_BYTES = 16;

interface CipherLike {
  allocPacket(payloadLen: number): Buffer;
}

/** Packets recycled in this process so far, every connection together (tests check the session path). */
let recycledInProcess = 0;
export const recycledPacketCount = (): number => recycledInProcess;

export class PacketRecycler {
  readonly #free: Buffer[] = [];
  /** The slots handed out, by their memory: a socket write is recognised as ours by its buffer. */
  readonly #slots = new WeakMap<ArrayBufferLike, Buffer>();
  #random = Buffer.alloc(0);
  #randomAt = 0;
  /** Packets allocated from slots; tests check that recycling is in effect. */
  allocated = 0;
  /** Slots that came back from the socket. */
  recycled = 0;

  /**
   * Makes `protocol._cipher` (ssh2's Protocol, available right after `client.connect()`) recycle its
   * packets from now on, including the ciphers that later handshakes and rekeys put in its place.
   * Returns false, changing nothing, when ssh2's protocol object is not what this expects.
   */
  install(protocol: unknown): boolean {
    if (typeof protocol !== "object" || protocol === null || !("_cipher" in protocol)) return false;
    const target = protocol as { _cipher: unknown };
    const descriptor = Object.getOwnPropertyDescriptor(target, "_cipher");
    if (!descriptor || !("value" in descriptor) || !descriptor.writable) return false;
    let current: unknown = descriptor.value;
    Object.defineProperty(target, "_cipher", {
      configurable: true,
      enumerable: descriptor.enumerable ?? true,
      get: () => current,
      set: (cipher: unknown) => {
        current = cipher;
        this.#adopt(cipher);
      },
    });
    this.#adopt(current);
    return true;
  }

  /** True when `chunk` is a packet of ours: the caller writes it and then calls `release`. */
  owns(chunk: unknown): chunk is Buffer {
    return Buffer.isBuffer(chunk) && this.#slots.has(chunk.buffer);
  }

  /** Gives a written packet's slot back; call it once the socket no longer needs the bytes. */
  release(chunk: Buffer): void {
    const slot = this.#slots.get(chunk.buffer);
    if (!slot) return;
    this.recycled += 1;
    recycledInProcess += 1;
    if (this.#free.length < MAX_FREE_SLOTS) this.#free.push(slot);
    else this.#slots.delete(chunk.buffer);
  }

  #adopt(cipher: unknown): void {
    if (!isNativeAesGcm(cipher)) return;
    const fallback = cipher.allocPacket.bind(cipher);
    cipher.allocPacket = (payloadLen: number) => this.#packet(payloadLen) ?? fallback(payloadLen);
  }

  /** The layout ssh2's AES-GCM ciphers use: length, padding length, payload, padding, room for the tag. */
  #packet(payloadLen: number): Buffer | undefined {
    let packetLen = 4 + 1 + payloadLen;
    let padLen = BLOCK_BYTES - ((packetLen - 4) & (BLOCK_BYTES - 1));
    if (padLen < 4) padLen += BLOCK_BYTES;
    packetLen += padLen;
    const size = packetLen + GCM_TAG_BYTES;
    if (size > SLOT_BYTES) return undefined;
    const packet = this.#slot().subarray(0, size);
    packet.writeUInt32BE(packetLen - 4, 0);
    packet[4] = padLen;
    this.#padding(packet, 5 + payloadLen, padLen);
    this.allocated += 1;
    return packet;
  }

  #slot(): Buffer {
    const reused = this.#free.pop();
    if (reused) return reused;
    // Its own memory (not Node's shared pool), so `chunk.buffer` names exactly this slot.
    const slot = Buffer.allocUnsafeSlow(SLOT_BYTES);
    this.#slots.set(slot.buffer, slot);
    return slot;
  }

  #padding(packet: Buffer, at: number, length: number): void {
    if (this.#randomAt + length > this.#random.length) {
      this.#random = randomFillSync(Buffer.allocUnsafeSlow(RANDOM_BLOCK_BYTES));
      this.#randomAt = 0;
    }
    this.#random.copy(packet, at, this.#randomAt, this.#randomAt + length);
    this.#randomAt += length;
  }
}

function isNativeAesGcm(cipher: unknown): cipher is CipherLike {
  return (
    typeof cipher === "object" &&
    cipher !== null &&
    cipher.constructor?.name === "AESGCMCipherBinding" &&
    typeof (cipher as { allocPacket?: unknown }).allocPacket === "function" &&
    typeof (cipher as { encrypt?: unknown }).encrypt === "function"
  );
}
