/**
 * `GET /v1/offers`: "what would this job rent, and at what price". The query takes a job's offer
 * constraints and training template, judged by the job request's own field schemas (same bounds,
 * same defaults), and the search is the one provisioning makes (`jobOfferSearch`: the template's
 * VRAM, CUDA version and disk, the bandwidth floor, the disk the job would rent), machines that
 * failed recently excluded, then `rankOffers` — so the first offer is the one a job would try first.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import {
  assertKnownGpuAndRegion,
  JobRequestSchema,
  JobValidationError,
  type offerConstraintsOf,
  settingsOf,
} from "../../jobs";
import { jobOfferSearch, rankOffers } from "../../offers";
import { TrainingRequestSchema, templateFor } from "../../training";
import { type ApiEnv, requireApiKey } from "../auth";
import type { ApiDeps } from "../deps";
import { fieldErrorsOfValidation } from "../errors";
import { API_KEY_SECURITY, problemResponses } from "../openapi";
import { queryNumber } from "../params";
import { problems } from "../problem";
import { RankedOfferSchema } from "../views/offer-view";

const job = JobRequestSchema.shape;

export const OfferSearchQuerySchema = z.object({
  gpuType: job.gpuType.meta({
    description: "A GPU model or alias: `4090`, `RTX 4090`, `A100`…",
    example: "4090",
  }),
  region: job.region.meta({ description: "A region group (`US`, `EU`, `ASIA`…) or an ISO country code." }),
  maxHourlyUsd: queryNumber(job.maxHourlyUsd).openapi({ example: 1 }),
  numGpus: queryNumber(job.numGpus),
  minVramGb: queryNumber(job.minVramGb),
  minReliability: queryNumber(job.minReliability),
  minDiskGb: queryNumber(job.minDiskGb),
  diskGb: queryNumber(job.diskGb).openapi({
    description: "The disk the job would rent (offers must fit it).",
  }),
  minInetDownMbps: queryNumber(job.minInetDownMbps).openapi({
    description: "Slowest download accepted, in Mb/s (0: no floor).",
  }),
  template: TrainingRequestSchema.shape.template.meta({
    description: "The training template: its VRAM, CUDA version and disk needs raise the constraints.",
  }),
  limit: queryNumber(z.number().int().min(1).max(64).default(10)).openapi({
    description: "Offers to answer.",
  }),
});
type OfferSearchQuery = z.infer<typeof OfferSearchQuerySchema>;

export const OfferSearchResultSchema = z
  .object({
    offers: z.array(RankedOfferSchema),
    excludedMachines: z
      .number()
      .int()
      .openapi({ description: "Machines skipped because they failed a job recently (host reputation)." }),
  })
  .openapi("OfferSearchResult");
export type OfferSearchResult = z.infer<typeof OfferSearchResultSchema>;

/** The query as a job's offer constraints (the fields `offerConstraintsOf` takes from a request);
 * a 400 naming the field for an unknown GPU or region. */
function constraintsOf(query: OfferSearchQuery): ReturnType<typeof offerConstraintsOf> {
  const { gpuType, region, maxHourlyUsd, numGpus, minVramGb, minReliability, minDiskGb } = query;
  const constraints = { gpuType, region, maxHourlyUsd, numGpus, minVramGb, minReliability, minDiskGb };
  try {
    assertKnownGpuAndRegion(constraints);
  } catch (error) {
    if (error instanceof JobValidationError) throw problems.invalidParameters(fieldErrorsOfValidation(error));
    throw error;
  }
  return constraints;
}

export function registerOfferRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/offers",
      tags: ["offers"],
      summary: "Search offers as a job would",
      description:
        "Live search with a job's constraints, ranked as provisioning ranks them (cheapest first above the reliability floor, recently failed machines skipped).",
      security: API_KEY_SECURITY,
      middleware: requireApiKey(deps),
      request: { query: OfferSearchQuerySchema },
      responses: {
        200: {
          description: "Offers, best first.",
          content: { "application/json": { schema: OfferSearchResultSchema } },
        },
        ...problemResponses(400, 401, 403, 429, 502, 503, 504),
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const constraints = constraintsOf(query);
      const settings = settingsOf(deps).provision;
      const excluded = await deps.store.recentlyFailedMachines(
        deps.clock.now() - settings.hostFailureWindowMs,
      );
      const search = jobOfferSearch(
        { ...constraints, diskGb: query.diskGb, minInetDownMbps: query.minInetDownMbps },
        templateFor(query).host,
      );
      const offers = await deps.vast.searchOffers({
        ...search,
        excludeMachineIds: [...excluded],
        limit: settings.searchLimit,
      });
      const ranked = rankOffers(offers, {
        minReliability: query.minReliability,
        maxHourlyUsd: query.maxHourlyUsd,
        excludeMachineIds: excluded,
      });
      return c.json(
        {
          offers: ranked.slice(0, query.limit).map((offer, i) => ({ ...offer, rank: i + 1 })),
          excludedMachines: excluded.size,
        },
        200,
      );
    },
  );
}
