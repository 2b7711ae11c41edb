import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatInstanceLabel,
  isRentalLabel,
  parseInstanceLabel,
  VAST_RENTAL_LABEL_PREFIX,
} from "../../src/vast";

describe("instance labels", () => {
  it("formats vast-rental:<jobId>:<attempt>", () => {
    expect(VAST_RENTAL_LABEL_PREFIX).toBe("vast-rental:");
    expect(formatInstanceLabel({ jobId: "job_01J9", attempt: 2 })).toBe("vast-rental:job_01J9:2");
  });

  it("parses its own labels, including job ids with colons and padded labels", () => {
    expect(parseInstanceLabel("vast-rental:job_01J9:2")).toEqual({ jobId: "job_01J9", attempt: 2 });
    expect(parseInstanceLabel("vast-rental:tenant:job:13")).toEqual({ jobId: "tenant:job", attempt: 13 });
    expect(parseInstanceLabel("  vast-rental:j:1 \n")).toEqual({ jobId: "j", attempt: 1 });
  });

  it.each([
    null,
    undefined,
    "",
    "my-instance",
    "vast-rental:",
    "vast-rental:job",
    "vast-rental:job:",
    "vast-rental::1",
    "vast-rental:job:0",
    "vast-rental:job:x",
    "vast-rental:job with space:1",
    "VAST-RENTAL:job:1",
    "other:vast-rental:job:1",
  ])("is null for labels that are not ours: %j", (label) => {
    expect(parseInstanceLabel(label)).toBeNull();
    expect(isRentalLabel(label)).toBe(false);
  });

  it("refuses to format bad parts", () => {
    expect(() => formatInstanceLabel({ jobId: "", attempt: 1 })).toThrow();
    expect(() => formatInstanceLabel({ jobId: "a b", attempt: 1 })).toThrow();
    expect(() => formatInstanceLabel({ jobId: "a", attempt: 0 })).toThrow();
    expect(() => formatInstanceLabel({ jobId: "a", attempt: 1.5 })).toThrow();
  });

  it("round-trips every valid job id and attempt (property)", () => {
    const jobId = fc.stringMatching(/^[\x21-\x7e]{1,60}$/);
    fc.assert(
      fc.property(jobId, fc.integer({ min: 1, max: 999_999 }), (id, attempt) => {
        expect(parseInstanceLabel(formatInstanceLabel({ jobId: id, attempt }))).toEqual({
          jobId: id,
          attempt,
        });
      }),
      { seed: 7, numRuns: 500 },
    );
  });
});
