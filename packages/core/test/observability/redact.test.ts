import { describe, expect, it } from "vitest";
import { REDACTED, redactObject, redactSecrets } from "../../src/observability";

describe("redactSecrets", () => {
  it("removes every occurrence of each registered secret", () => {
    const text = "key=sk-abcdef123 again sk-abcdef123";
    expect(redactSecrets(text, ["sk-abcdef123"])).toBe(`key=${REDACTED} again ${REDACTED}`);
  });

  it("ignores empty and very short secrets rather than shredding the text", () => {
    expect(redactSecrets("abc", ["", "a", undefined, null])).toBe("abc");
  });
});

describe("redactObject", () => {
  it("redacts values under secret-looking keys and known secrets anywhere, without mutating", () => {
    const input = {
      apiKey: "x-secret-1",
      nested: { Authorization: "Bearer zzz", note: "has x-secret-2 inside" },
    };
    const out = redactObject(input, ["x-secret-2"]);
    expect(out).toEqual({
      apiKey: REDACTED,
      nested: { Authorization: REDACTED, note: `has ${REDACTED} inside` },
    });
    expect(input.apiKey).toBe("x-secret-1");
  });
});
