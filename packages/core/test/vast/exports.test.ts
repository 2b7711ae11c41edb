import { describe, expect, it } from "vitest";
import * as core from "../../src";

describe("@vast-rental/core public Vast API", () => {
  it("exports the client, service, error, normalizers, query builder and label helpers", () => {
    for (const name of [
      "VastAIService",
      "VastAIClient",
      "VastAIError",
      "normalizeOffer",
      "normalizeInstance",
      "buildOfferQuery",
      "formatInstanceLabel",
      "parseInstanceLabel",
      "VAST_RENTAL_LABEL_PREFIX",
      "SearchOffersRequestSchema",
      "VastInstanceSchema",
      "VastOfferSchema",
      "DEFAULT_RATE_LIMITS",
      "seededRandom",
    ]) {
      expect(core, name).toHaveProperty(name);
    }
  });
});
