/**
 * POSIX ustar headers for the packer's entries (regular files only), written straight into the
 * output buffer. A name that does not fit ustar's 100-byte name (+ 155-byte prefix) gets a pax
 * `path` record first, and a size past ustar's 8 GiB limit a pax `size` record: what GNU tar and the
 * instance's extractor (`remote-verify.ts`) both read.
 */

export const BLOCK = 512;
/** Largest size the 11 octal digits of a ustar header can hold. */
const MAX_OCTAL_SIZE = 0o77777777777;

/** The bytes that precede a file's data in the stream: an optional pax header, then the ustar one. */
export function fileHeader(name: string, size: number, mtimeSeconds: number): Buffer {
  const nameBytes = Buffer.from(name, "utf8");
  const split = ustarSplit(nameBytes);
  const records: string[] = [];
  if (!split) records.push(paxRecord("path", name));
  if (size > MAX_OCTAL_SIZE) records.push(paxRecord("size", String(size)));
  const main = ustar(split ?? fallbackName(nameBytes), size > MAX_OCTAL_SIZE ? 0 : size, mtimeSeconds, "0");
  if (records.length === 0) return main;
  const pax = Buffer.from(records.join(""), "utf8");
  const paxHeader = ustar(
    { name: Buffer.from("PaxHeader", "utf8"), prefix: Buffer.alloc(0) },
    pax.length,
    mtimeSeconds,
    "x",
  );
  return Buffer.concat([paxHeader, pax, Buffer.alloc(padding(pax.length)), main]);
}

/** Zero bytes after `size` bytes of data, up to the next 512-byte block. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** Two zero blocks end the archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

interface UstarName {
  name: Buffer;
  prefix: Buffer;
}

function ustarSplit(bytes: Buffer): UstarName | null {
  if (bytes.length <= 100) return { name: bytes, prefix: Buffer.alloc(0) };
  // The prefix ends at a `/` (not written), and both halves must fit.
  for (let i = Math.min(bytes.length - 1, 155); i > 0; i--) {
    if (bytes[i] === 0x2f && bytes.length - i - 1 <= 100 && bytes.length - i - 1 > 0) {
      return { name: bytes.subarray(i + 1), prefix: bytes.subarray(0, i) };
    }
  }
  return null;
}

/** The ustar name readers without pax support see: the last 100 bytes' worth of the path. */
function fallbackName(bytes: Buffer): UstarName {
  return { name: bytes.subarray(bytes.length - 100), prefix: Buffer.alloc(0) };
}

function paxRecord(key: string, value: string): string {
  // "<length> key=value\n", where length counts itself.
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body);
  let length = bodyLength + String(bodyLength).length;
  if (String(length).length + bodyLength !== length) length = bodyLength + String(length).length;
  return `${length}${body}`;
}

function ustar(name: UstarName, size: number, mtimeSeconds: number, type: "0" | "x"): Buffer {
  const header = Buffer.alloc(BLOCK);
  name.name.copy(header, 0, 0, 100);
  octal(header, 100, 8, 0o644);
  octal(header, 108, 8, 0);
  octal(header, 116, 8, 0);
  octal(header, 124, 12, size);
  octal(header, 136, 12, Math.floor(mtimeSeconds));
  header.write("        ", 148, "latin1");
  header.write(type, 156, "latin1");
  header.write("ustar\u000000", 257, "latin1");
  name.prefix.copy(header, 345, 0, 155);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += header[i] as number;
  header.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, "latin1");
  return header;
}

function octal(header: Buffer, offset: number, width: number, value: number): void {
  header.write(`${value.toString(8).padStart(width - 1, "0")}\u0000`, offset, "latin1");
}
