import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { normalizeInstance, normalizeOffer, VastInstanceSchema, VastOfferSchema } from "../../src/vast";
import { offer4090, runningInstanceV1 } from "./fixtures/raw";

const SEED = 20261128;

/** The real field names, each holding anything at all. */
const fieldsOf = (sample: Record<string, unknown>, extra: string[]) =>
  fc.dictionary(fc.constantFrom(...Object.keys(sample), ...extra), fc.anything({ withNullPrototype: true }));

const instanceLike = fc.oneof(
  fieldsOf(runningInstanceV1, ["id", "ports", "country_code", "next_token"]),
  fc
    .record({ id: fc.oneof(fc.integer(), fc.string(), fc.constant(null)) })
    .chain((base) => fieldsOf(runningInstanceV1, []).map((fields) => ({ ...fields, ...base }))),
);
const offerLike = fieldsOf(offer4090, ["ask_contract_id", "country_code", "search"]);

describe("normalizers never throw (fast-check)", () => {
  it("on arbitrary JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const instance = normalizeInstance(value);
        const offer = normalizeOffer(value);
        if (instance) expect(VastInstanceSchema.safeParse(instance).success).toBe(true);
        if (offer) expect(VastOfferSchema.safeParse(offer).success).toBe(true);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it("on objects with the real instance fields holding arbitrary values, always yielding a valid shape", () => {
    fc.assert(
      fc.property(instanceLike, (value) => {
        const instance = normalizeInstance(value);
        if (instance) {
          expect(VastInstanceSchema.safeParse(instance).success).toBe(true);
          expect(instance.instanceId).toBeGreaterThan(0);
          if (instance.sshPort !== null) expect(instance.sshPort).toBeGreaterThanOrEqual(1);
        }
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it("on objects with the real offer fields holding arbitrary values, always yielding a valid shape", () => {
    fc.assert(
      fc.property(offerLike, (value) => {
        const offer = normalizeOffer(value);
        if (offer) {
          expect(VastOfferSchema.safeParse(offer).success).toBe(true);
          expect(offer.reliability).toBeGreaterThanOrEqual(0);
          expect(offer.reliability).toBeLessThanOrEqual(1);
          expect(offer.hourlyUsd).toBeGreaterThanOrEqual(0);
        }
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it("on a realistic record with one field replaced by anything", () => {
    const mutated = (sample: Record<string, unknown>) =>
      fc
        .tuple(fc.constantFrom(...Object.keys(sample)), fc.anything())
        .map(([key, value]) => ({ ...sample, [key]: value }));
    fc.assert(
      fc.property(mutated(runningInstanceV1), mutated(offer4090), (instance, offer) => {
        normalizeInstance(instance);
        normalizeOffer(offer);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });
});
