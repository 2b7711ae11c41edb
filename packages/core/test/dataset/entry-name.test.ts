import { posix } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkEntryName, classifyEntry, UnsafeDatasetEntryError } from "../../src/dataset";

describe("checkEntryName", () => {
  it.each([
    ["/etc/passwd", /absolute/],
    ["../escape.jpg", /'\.\.'/],
    ["a/../../escape.jpg", /'\.\.'/],
    ["a\\..\\b.jpg", /backslash/],
    ["bad\nname.jpg", /control/],
    ["bad\rname.jpg", /control/],
    ["esc\u001b[31m.jpg", /control/],
    ["c1\u0085.jpg", /control/],
    ["nul\0.jpg", /NUL/],
    ["a//b.jpg", /empty/],
    ["", /empty/],
    ["./", /empty/],
    [`${"x".repeat(300)}.jpg`, /segment longer/],
    [`${"abc/".repeat(300)}x.jpg`, /longer than/],
    ["MANIFEST.sha256", /reserved/],
    ["./.dataset-verified", /reserved/],
  ])("refuses %j", (name, reason) => {
    const error = (() => {
      try {
        checkEntryName(name);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UnsafeDatasetEntryError);
    expect((error as Error).message).toMatch(reason);
    expect((error as UnsafeDatasetEntryError).entry).toBe(name);
  });

  it("accepts ordinary names and strips a leading ./", () => {
    expect(checkEntryName("./set 1/img é 01.JPG")).toBe("set 1/img é 01.JPG");
    expect(checkEntryName("a'b\"c$(x).png")).toBe("a'b\"c$(x).png");
  });

  it("never accepts a name that resolves outside the dataset folder", () => {
    const segment = fc.oneof(
      fc.constantFrom("..", ".", "", "/", "a", "\\", "b.jpg"),
      fc.string({ maxLength: 5 }),
    );
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), (parts) => {
        const raw = parts.join("/");
        let name: string;
        try {
          name = checkEntryName(raw);
        } catch (e) {
          expect(e).toBeInstanceOf(UnsafeDatasetEntryError);
          return;
        }
        const resolved = posix.resolve("/dataset", name);
        expect(resolved.startsWith("/dataset/")).toBe(true);
        expect(posix.relative("/dataset", resolved)).toBe(name);
      }),
      { numRuns: 500, seed: 3 },
    );
  });
});

describe("classifyEntry", () => {
  it("keeps images and captions, skips the rest", () => {
    expect(classifyEntry("a/b.JPG")).toBe("image");
    expect(classifyEntry("b.jpeg")).toBe("image");
    expect(classifyEntry("b.webp")).toBe("image");
    expect(classifyEntry("b.png")).toBe("image");
    expect(classifyEntry("b.txt")).toBe("caption");
    expect(classifyEntry("b.gif")).toBe("skip");
    expect(classifyEntry("README")).toBe("skip");
    expect(classifyEntry("__MACOSX/._b.jpg")).toBe("skip");
    expect(classifyEntry(".jpg")).toBe("skip");
  });
});
