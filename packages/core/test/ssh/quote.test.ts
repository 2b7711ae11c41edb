import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ShellQuoteError, shellCommand, shellQuote } from "../../src/ssh";

/** Runs `script` through a real shell and returns its stdout bytes. */
const runShell = (shell: string, script: string): Buffer =>
  execFileSync(shell, ["-c", script], { stdio: ["ignore", "pipe", "pipe"] });

const hostileFragment = fc.constantFrom(
  "'",
  '"',
  "$(",
  ")",
  "`",
  "\\",
  "\n",
  "\r",
  "$HOME",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal shell expansion is the point
  "${IFS}",
  ";",
  "&&",
  "|",
  "*",
  "~",
  "!",
  " ",
  "\t",
  "é",
  "😀",
  "-n",
  "%s",
  "'\\''",
);
const hostileString = fc.array(hostileFragment, { maxLength: 12 }).map((parts) => parts.join(""));
const anyString = fc.string({ unit: "binary", maxLength: 40 }).filter((s) => !s.includes("\0"));
const value = fc.oneof(hostileString, anyString);

describe("shellQuote", () => {
  it("round-trips arbitrary strings through bash unchanged", () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(runShell("bash", `printf %s ${shellQuote(v)}`)).toEqual(Buffer.from(v, "utf8"));
      }),
      { numRuns: 150, seed: 20261128 },
    );
  });

  it("round-trips through POSIX sh (dash) too", () => {
    fc.assert(
      fc.property(hostileString, (v) => {
        expect(runShell("sh", `printf %s ${shellQuote(v)}`)).toEqual(Buffer.from(v, "utf8"));
      }),
      { numRuns: 60, seed: 7 },
    );
  });

  it("keeps each interpolated value one word in shellCommand", () => {
    fc.assert(
      fc.property(value, value, fc.array(value, { maxLength: 3 }), (a, b, rest) => {
        const out = runShell("bash", shellCommand`printf '%s\\0' ${a} ${b} ${rest}`).toString("utf8");
        expect(out.split("\0").slice(0, -1)).toEqual([a, b, ...rest]);
      }),
      { numRuns: 80, seed: 11 },
    );
  });

  it("does not execute command substitutions in values", () => {
    const v = "$(touch /tmp/pwned-by-quote-test)`id`";
    expect(runShell("bash", `printf %s ${shellQuote(v)}`).toString()).toBe(v);
  });

  it("quotes the empty string as an empty word", () => {
    expect(shellQuote("")).toBe("''");
    expect(runShell("bash", `printf '[%s]' ${shellQuote("")}`).toString()).toBe("[]");
  });

  it("quotes numbers and refuses non-finite ones", () => {
    expect(shellQuote(42)).toBe("'42'");
    expect(() => shellQuote(Number.NaN)).toThrow(ShellQuoteError);
  });

  it("refuses NUL with a clear error", () => {
    expect(() => shellQuote("a\0b")).toThrow(/NUL/);
    expect(() => shellCommand`echo ${"x\0"}`).toThrow(ShellQuoteError);
  });
});
