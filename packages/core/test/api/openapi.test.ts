/**
 * The OpenAPI document served at /openapi.json: valid OpenAPI 3.1 (checked by a validator against
 * the specification's JSON Schema, every $ref resolved), listing every route with its security
 * and its problem+json error responses.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalDynamo, startDynamoLocal } from "../../../../test/support/dynamodb";
import { PROBLEM_CONTENT_TYPE } from "../../src/api";
import { type ApiHarness, apiHarness, bodyOf } from "./support";

interface Operation {
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>;
}
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, { required?: string[]; properties?: Record<string, unknown> }>;
    securitySchemes: Record<string, unknown>;
  };
};

let dynamo: LocalDynamo;
let h: ApiHarness;
let doc: Document;

beforeAll(async () => {
  dynamo = await startDynamoLocal();
  h = await apiHarness(dynamo);
  doc = await bodyOf<Document>(await h.app.request("/openapi.json"));
});
afterAll(async () => {
  await dynamo?.stop();
});

const ROUTES: [path: string, method: string, security: string[] | null][] = [
  ["/v1/jobs", "post", ["apiKey", "signedSubmission"]],
  ["/v1/jobs", "get", ["apiKey"]],
  ["/v1/jobs/{id}", "get", ["apiKey"]],
  ["/v1/jobs/{id}/cancel", "post", ["apiKey"]],
  ["/v1/offers", "get", ["apiKey"]],
  ["/v1/instances", "get", ["apiKey"]],
  ["/v1/instances/{id}", "get", ["apiKey"]],
  ["/v1/instances/{id}/stop", "post", ["apiKey"]],
  ["/v1/instances/{id}/start", "post", ["apiKey"]],
  ["/v1/instances/{id}", "delete", ["apiKey"]],
  ["/v1/webhooks/vast", "post", ["vastSignature"]],
  ["/health", "get", null],
  ["/openapi.json", "get", null],
  ["/docs", "get", null],
];

describe("GET /openapi.json", () => {
  it("is a valid OpenAPI 3.1 document whose references all resolve", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(() => validator.resolveRefs()).not.toThrow();
  });

  it("the validator does refuse a broken document (the check can fail)", async () => {
    const broken = structuredClone(doc) as unknown as { paths: Record<string, unknown> };
    broken.paths["/health"] = { get: { responses: "none" } };
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it("lists every route, and only those, with its security", () => {
    const listed = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m} ${path}`),
    );
    expect(listed.sort()).toEqual(ROUTES.map(([p, m]) => `${m} ${p}`).sort());
    for (const [path, method, security] of ROUTES) {
      const op = doc.paths[path]?.[method];
      const schemes = op?.security?.flatMap((s) => Object.keys(s)) ?? null;
      expect(schemes, `${method} ${path}`).toEqual(security);
    }
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual([
      "apiKey",
      "signedSubmission",
      "vastSignature",
    ]);
  });

  it("describes errors as problem+json with the Problem schema, on every route that can fail", () => {
    const problem = doc.components.schemas.Problem;
    expect(problem?.required?.sort()).toEqual(["detail", "status", "title", "type"]);
    expect(Object.keys(problem?.properties ?? {}).sort()).toEqual([
      "detail",
      "errors",
      "status",
      "title",
      "type",
    ]);
    for (const [path, method, security] of ROUTES) {
      const op = doc.paths[path]?.[method] as Operation;
      const errors = Object.entries(op.responses).filter(([status]) => Number(status) >= 400);
      if (security === null) {
        expect(errors, `${method} ${path}`).toEqual([]);
        continue;
      }
      expect(
        errors.map(([s]) => s),
        `${method} ${path}`,
      ).toContain("401");
      for (const [status, response] of errors) {
        expect(Object.keys(response.content ?? {}), `${method} ${path} ${status}`).toEqual([
          PROBLEM_CONTENT_TYPE,
        ]);
        expect(response.content?.[PROBLEM_CONTENT_TYPE]?.schema.$ref).toBe("#/components/schemas/Problem");
      }
    }
    const submit = doc.paths["/v1/jobs"]?.post as Operation;
    expect(Object.keys(submit.responses).sort()).toEqual([
      "202",
      "400",
      "401",
      "409",
      "413",
      "415",
      "422",
      "503",
    ]);
  });

  it("documents the request and response bodies from the zod schemas", () => {
    const submit = doc.paths["/v1/jobs"]?.post as Operation;
    expect(submit.requestBody?.content["application/json"]?.schema).toEqual({
      $ref: "#/components/schemas/JobRequest",
    });
    expect(submit.parameters?.map((p) => `${p.in}:${p.name}`)).toEqual([
      "header:Idempotency-Key",
      "header:X-Vast-Rental-Timestamp",
      "header:X-Vast-Rental-Signature-256",
    ]);
    const request = doc.components.schemas.JobRequest;
    expect(request?.required?.sort()).toEqual([
      "budgetUsd",
      "dataset",
      "gpuType",
      "maxHourlyUsd",
      "training",
    ]);
    // JSON Schema patterns carry no regex flags.
    expect(JSON.stringify(request)).not.toMatch(/\$\/i"/);
    const offers = doc.paths["/v1/offers"]?.get as Operation;
    expect(offers.parameters?.map((p) => p.name).sort()).toEqual([
      "diskGb",
      "gpuType",
      "limit",
      "maxHourlyUsd",
      "minDiskGb",
      "minInetDownMbps",
      "minReliability",
      "minVramGb",
      "numGpus",
      "region",
      "template",
    ]);
    // The template names are the files present in packages/core/configs.
    const template = offers.parameters?.find((p) => p.name === "template") as {
      schema?: { enum?: string[] };
    };
    expect(template.schema?.enum).toEqual(["flux-lora-24gb", "flux-lora-low-vram"]);
    for (const name of [
      "Job",
      "JobSummary",
      "JobList",
      "Attempt",
      "JobCost",
      "TrainingProgress",
      "Instance",
      "RankedOffer",
    ]) {
      expect(doc.components.schemas, name).toHaveProperty(name);
    }
  });
});
