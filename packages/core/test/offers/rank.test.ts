import { describe, expect, it } from "vitest";
import { offer } from "../../../../test/support/fake-vast";
import { rankOffers } from "../../src/offers";

describe("rankOffers", () => {
  it("orders by price, then reliability, above the floor, under the cap, skipping failed machines", () => {
    const offers = [
      offer(1, { hourlyUsd: 0.5, reliability: 0.99 }),
      offer(2, { hourlyUsd: 0.3, reliability: 0.9 }),
      offer(3, { hourlyUsd: 0.3, reliability: 0.99 }),
      offer(4, { hourlyUsd: 0.1, reliability: 0.5 }),
      offer(5, { hourlyUsd: 0.2, reliability: 0.99 }),
      offer(6, { hourlyUsd: 2, reliability: 0.99 }),
    ];
    const ranked = rankOffers(offers, {
      minReliability: 0.9,
      maxHourlyUsd: 1,
      excludeMachineIds: new Set([50]),
    });
    expect(ranked.map((o) => o.id)).toEqual([3, 2, 1]);
  });
});
