/**
 * The one way a value reaches a remote shell. Every path, id and parameter that ends up in a
 * command on a rented instance goes through `shellQuote` (or the `shellCommand` template, which
 * quotes every interpolation), so shell metacharacters in data can never become syntax.
 */

/** Thrown for values a POSIX shell argument cannot carry (NUL ends a C string). */
export class ShellQuoteError extends Error {
  override readonly name = "ShellQuoteError";
}

export type ShellValue = string | number;

/**
 * POSIX single-quote style: everything between single quotes is literal, so the only character
 * needing care is the single quote itself, written as `'\''` (close, escaped quote, reopen).
 */
export function shellQuote(value: ShellValue): string {
  const text = typeof value === "number" ? String(value) : value;
  if (typeof text !== "string") throw new ShellQuoteError("shellQuote accepts only strings and numbers");
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new ShellQuoteError("shellQuote refuses non-finite numbers");
  }
  if (text.includes("\0")) throw new ShellQuoteError("a shell argument cannot contain a NUL character");
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * Tagged template building a command line: the literal parts are trusted code, every
 * interpolated value is quoted (arrays become several quoted words).
 *
 *   shellCommand`mkdir -p ${dir} && tar -x -C ${dir}`
 */
export function shellCommand(
  strings: TemplateStringsArray,
  ...values: ReadonlyArray<ShellValue | readonly ShellValue[]>
): string {
  let out = strings[0] ?? "";
  values.forEach((value, i) => {
    out += Array.isArray(value) ? value.map((v) => shellQuote(v)).join(" ") : shellQuote(value as ShellValue);
    out += strings[i + 1] ?? "";
  });
  return out;
}
