/**
 * Scans whatever a test can get hold of (errors, log records, DynamoDB items, timelines,
 * published events) for pieces of a secret. Exact matching is not enough: a message cut at
 * 500 characters, or a value split in two, leaks part of a key, so every 8-character substring
 * of the secret is looked for, in every rendering a leak could hide in.
 */
import { inspect } from "node:util";

/** A piece of a key this long is a leak. */
export const SECRET_FRAGMENT_LENGTH = 8;

/**
 * Every rendering of `value` a secret could hide in: for an error, its message, stack and own
 * fields along the whole cause chain; for anything, its JSON and its `util.inspect` (which also
 * shows errors nested in objects, and non-enumerable fields).
 */
export function everythingAbout(value: unknown): string {
  const parts: string[] = [];
  if (typeof value === "string") return value;
  const seen = new Set<unknown>();
  for (
    let current: unknown = value;
    current instanceof Error && !seen.has(current);
    current = current.cause
  ) {
    seen.add(current);
    parts.push(current.message, current.stack ?? "", safeJson({ ...current }));
  }
  parts.push(safeJson(value));
  parts.push(
    inspect(value, {
      depth: Number.POSITIVE_INFINITY,
      maxArrayLength: Number.POSITIVE_INFINITY,
      maxStringLength: Number.POSITIVE_INFINITY,
      breakLength: Number.POSITIVE_INFINITY,
      showHidden: true,
    }),
  );
  return parts.join("\n");
}

/**
 * The `length`-character substrings of `secret` found anywhere in `value`'s renderings, in
 * the order they occur in the secret; empty when `value` is clean. Pass several values as an
 * array (`[error, logger.records, item]`).
 */
export function secretFragmentsIn(value: unknown, secret: string, length = SECRET_FRAGMENT_LENGTH): string[] {
  if (secret.length < length)
    throw new Error(`the secret is shorter than ${length} characters: nothing to scan for`);
  const text = everythingAbout(value);
  const found: string[] = [];
  for (let start = 0; start + length <= secret.length; start++) {
    const fragment = secret.slice(start, start + length);
    if (text.includes(fragment)) found.push(fragment);
  }
  return found;
}

function safeJson(value: unknown): string {
  const seen = new WeakSet<object>();
  try {
    return (
      JSON.stringify(value, (_key, item: unknown) => {
        if (typeof item === "bigint") return item.toString();
        if (item && typeof item === "object") {
          if (seen.has(item)) return "[circular]";
          seen.add(item);
        }
        return item;
      }) ?? ""
    );
  } catch {
    return "";
  }
}
