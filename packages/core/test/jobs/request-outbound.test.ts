/**
 * The job request's intake rules for outbound URLs and ai-toolkit's inline flags, and the
 * stored-record schema that must keep reading what intake once accepted.
 */
import { describe, expect, it } from "vitest";
import { sampleJobRequestInput } from "../../../../test/support/job-request";
import {
  formatIssues,
  type JobRequestInput,
  JobRequestSchema,
  jobRequestSchema,
  StoredJobRequestSchema,
} from "../../src/jobs/request";
import { DEFAULT_OUTBOUND_POLICY, parseOutboundAllowHosts } from "../../src/net";

function refusal(overrides: Partial<JobRequestInput>, schema = JobRequestSchema): string | null {
  const parsed = schema.safeParse(sampleJobRequestInput(overrides));
  return parsed.success ? null : formatIssues(parsed.error);
}

describe("JobRequestSchema: outbound URLs at intake", () => {
  it.each([
    [
      "https://169.254.169.254/latest/meta-data",
      /^dataset\.url: dataset URLs may not point at a private or loopback address: 169\.254\.169\.254 is a link-local/,
    ],
    ["https://localhost:8443/x", /^dataset\.url: dataset URLs may not point at localhost$/],
    [
      "https://[::1]/x",
      /^dataset\.url: dataset URLs may not point at a private or loopback address: \[::1\] is a loopback address$/,
    ],
    [
      "https://user:pass@internal.corp/x",
      /^dataset\.url: dataset URLs may not carry a user name or password$/,
    ],
  ])("refuses the dataset URL %s", (url, message) => {
    expect(refusal({ dataset: { kind: "https", url } })).toMatch(message);
  });

  it.each([
    ["https://10.0.0.1/hooks", /^callbackUrl: callbackUrl may not point at a private or loopback address/],
    ["https://127.0.0.1:9000/hooks", /loopback/],
    ["https://[fd00::1]/hooks", /private/],
    ["https://localhost/hooks", /^callbackUrl: callbackUrl may not point at localhost$/],
    [
      "https://bot:token@example.com/hooks",
      /^callbackUrl: callbackUrl may not carry a user name or password$/,
    ],
    ["http://example.com/hooks", /^callbackUrl: callbackUrl must use https$/],
  ])("refuses the callbackUrl %s", (callbackUrl, message) => {
    expect(refusal({ callbackUrl })).toMatch(message);
  });

  it("accepts public names and addresses", () => {
    expect(
      refusal({
        dataset: { kind: "https", url: "https://datasets.example.com/cats.tar.gz" },
        callbackUrl: "https://example.com/hooks/training?token=abc",
      }),
    ).toBeNull();
  });
});

describe("jobRequestSchema(policy): a deployment's allowlist", () => {
  const local = parseOutboundAllowHosts("127.0.0.1,localhost");

  it("accepts the allowlisted loopback hosts, and nothing else private", () => {
    const schema = jobRequestSchema(local);
    expect(
      refusal(
        {
          dataset: { kind: "https", url: "https://127.0.0.1:8443/x.tar" },
          callbackUrl: "https://localhost:9/hook",
        },
        schema,
      ),
    ).toBeNull();
    expect(refusal({ callbackUrl: "https://10.0.0.1/hook" }, schema)).toMatch(/callbackUrl.*private/);
    expect(refusal({ dataset: { kind: "https", url: "https://[::1]/x.tar" } }, schema)).toMatch(/loopback/);
  });

  it("is the strict schema without an allowlist, and is built once per policy", () => {
    expect(jobRequestSchema()).toBe(JobRequestSchema);
    expect(jobRequestSchema(DEFAULT_OUTBOUND_POLICY)).toBe(JobRequestSchema);
    expect(jobRequestSchema({ allowHosts: [] })).toBe(JobRequestSchema);
    expect(jobRequestSchema(local)).toBe(jobRequestSchema(local));
  });
});

describe("StoredJobRequestSchema", () => {
  it("reads back requests accepted under an allowlist or before the flag rules, with the same output", () => {
    const stored = sampleJobRequestInput({
      dataset: { kind: "https", url: "https://127.0.0.1:8443/x.tar" },
      callbackUrl: "https://localhost:9/hook",
      training: { params: { triggerWord: "my--cat", samplePrompts: ["a cat --w 8192"] } },
    });
    expect(JobRequestSchema.safeParse(stored).success).toBe(false);
    const parsed = StoredJobRequestSchema.parse(stored);
    expect(parsed.dataset).toEqual({ kind: "https", url: "https://127.0.0.1:8443/x.tar" });
    expect(parsed.training.params.samplePrompts).toEqual(["a cat --w 8192"]);
    // Defaults are applied exactly as at intake.
    const plain = sampleJobRequestInput();
    expect(StoredJobRequestSchema.parse(plain)).toEqual(JobRequestSchema.parse(plain));
  });

  it("still holds the shape: https only, unknown keys refused", () => {
    expect(
      StoredJobRequestSchema.safeParse(sampleJobRequestInput({ callbackUrl: "http://x.test/" })).success,
    ).toBe(false);
    expect(StoredJobRequestSchema.safeParse({ ...sampleJobRequestInput(), extra: 1 }).success).toBe(false);
  });
});
