/**
 * Merges the tar stream's many small chunks (a 512-byte header, a few KB of file) into larger
 * writes before they reach the SSH channel: one SSH packet per tar fragment would spend more
 * time on framing and syscalls than on data when a dataset has thousands of small files.
 */
import { Transform, type TransformCallback } from "node:stream";

export class CoalesceChunks extends Transform {
  #chunks: Buffer[] = [];
  #size = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly targetBytes = 64 * 1024,
    /** A stalled source (a slow GET) must not hold back bytes already packed. */
    private readonly maxDelayMs = 5,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#size >= this.targetBytes) this.#emit();
    else this.#timer ??= setTimeout(() => this.#emit(), this.maxDelayMs);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.#emit();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer);
    callback(error);
  }

  #emit(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#size === 0) return;
    const out = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#size);
    this.#chunks = [];
    this.#size = 0;
    this.push(out);
  }
}
