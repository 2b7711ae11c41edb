/** An offer as `GET /v1/offers` answers it: Vast's offer (normalized) and its place in the ranking. */
import { z } from "@hono/zod-openapi";
import { VastOfferSchema } from "../../vast";

export const RankedOfferSchema = VastOfferSchema.extend({
  rank: z.number().int().min(1).openapi({ description: "1 = the offer provisioning would try first." }),
}).openapi("RankedOffer");
export type RankedOffer = z.infer<typeof RankedOfferSchema>;
