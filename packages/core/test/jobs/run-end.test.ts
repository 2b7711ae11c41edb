import { describe, expect, it } from "vitest";
import { estimateRunEnd } from "../../src/jobs";

const S = 1000;

describe("estimateRunEnd", () => {
  it("extrapolates the rate since the last reading, not since the start (the download makes no steps)", () => {
    // Started at 0; 5 minutes of download, then 1 step/s: at 900 s, step 600; read at 800 s, step 500.
    const end = estimateRunEnd({
      now: 900 * S,
      step: 600,
      totalSteps: 1000,
      startedAt: 0,
      previous: { step: 500, at: 800 * S },
    });
    expect(end).toBe(1300 * S);
    // From the start alone, the same run looks 2/3 as fast: its end would be put 200 s late.
    expect(estimateRunEnd({ now: 900 * S, step: 600, totalSteps: 1000, startedAt: 0 })).toBe(1500 * S);
  });

  it("falls back to the start when the earlier reading is not earlier progress", () => {
    const input = { now: 100 * S, step: 50, totalSteps: 100, startedAt: 0 };
    expect(estimateRunEnd({ ...input, previous: { step: 50, at: 90 * S } })).toBe(200 * S);
    expect(estimateRunEnd({ ...input, previous: { step: 60, at: 90 * S } })).toBe(200 * S);
    expect(estimateRunEnd({ ...input, previous: { step: 10, at: 100 * S } })).toBe(200 * S);
    expect(estimateRunEnd({ ...input, previous: null })).toBe(200 * S);
  });

  it("a run at its last step ends now; no progress or no elapsed time says nothing", () => {
    expect(estimateRunEnd({ now: 5 * S, step: 100, totalSteps: 100, startedAt: 0 })).toBe(5 * S);
    expect(estimateRunEnd({ now: 5 * S, step: 0, totalSteps: 100, startedAt: 0 })).toBeNull();
    expect(estimateRunEnd({ now: 5 * S, step: 3, totalSteps: 0, startedAt: 0 })).toBeNull();
    expect(estimateRunEnd({ now: 5 * S, step: 3, totalSteps: 100, startedAt: 5 * S })).toBeNull();
  });
});
