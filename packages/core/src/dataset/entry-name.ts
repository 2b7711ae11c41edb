/**
 * Which archive entries may reach the instance. Names come from S3 keys, archives and folders we
 * do not control; a name that could escape the job folder or confuse `tar`/`sha256sum` is refused
 * (the whole push fails, naming the entry), and files that are not images or captions are skipped.
 */

export const MANIFEST_NAME = "MANIFEST.sha256";
/** Written next to the manifest after remote verification; holds the manifest's own sha256. */
export const MARKER_NAME = ".dataset-verified";

const MAX_PATH_BYTES = 1024;
const MAX_SEGMENT_BYTES = 255;

export class UnsafeDatasetEntryError extends Error {
  override readonly name = "UnsafeDatasetEntryError";
  constructor(
    readonly entry: string,
    readonly reason: string,
  ) {
    // JSON-quoting shows control characters visibly instead of breaking the log line.
    super(`unsafe dataset entry ${JSON.stringify(entry.slice(0, 300))}: ${reason}`);
  }
}

/** Returns the name to use in the tar stream, or throws `UnsafeDatasetEntryError`. */
export function checkEntryName(raw: string): string {
  const fail = (reason: string) => {
    throw new UnsafeDatasetEntryError(raw, reason);
  };
  if (raw.includes("\0")) fail("contains NUL");
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) fail("contains a control character");
  }
  if (raw.includes("\\")) fail("contains a backslash");
  if (raw.startsWith("/")) fail("is an absolute path");
  // Archives made with `tar -C dir .` prefix every name with "./"; that is harmless.
  const name = raw.replace(/^(\.\/)+/, "");
  if (name === "") fail("is empty");
  if (Buffer.byteLength(name) > MAX_PATH_BYTES) fail(`is longer than ${MAX_PATH_BYTES} bytes`);
  for (const segment of name.split("/")) {
    if (segment === "..") fail("contains a '..' segment");
    if (segment === "." || segment === "") fail("contains an empty or '.' segment");
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES)
      fail(`has a segment longer than ${MAX_SEGMENT_BYTES} bytes`);
  }
  if (name === MANIFEST_NAME || name === MARKER_NAME) fail("collides with a reserved file name");
  return name;
}

export type EntryKind = "image" | "caption" | "skip";

const IMAGE_EXTENSIONS = new Set(["jpg", "jpeg", "png", "webp"]);

/** Images and `.txt` captions are kept; hidden files (`.DS_Store`, `._x.jpg`) and the rest are skipped. */
export function classifyEntry(name: string): EntryKind {
  const base = name.slice(name.lastIndexOf("/") + 1);
  if (base.startsWith(".")) return "skip";
  const dot = base.lastIndexOf(".");
  if (dot <= 0) return "skip";
  const ext = base.slice(dot + 1).toLowerCase();
  if (IMAGE_EXTENSIONS.has(ext)) return "image";
  if (ext === "txt") return "caption";
  return "skip";
}
