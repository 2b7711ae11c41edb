/**
 * Intake validation for URLs the system will later fetch or post to: the rules of
 * `checkOutboundUrl`, as a zod string schema, so a URL that could never be requested is a 4xx
 * and nothing is stored. Names cannot be resolved here (no network at intake); they are judged
 * again when requested.
 */
import { z } from "zod";
import { describeRange } from "./address";
import { DEFAULT_OUTBOUND_POLICY, type OutboundPolicy } from "./policy";
import { findUrlViolation, type UrlViolation } from "./url-check";

export const MAX_URL_LENGTH = 2048;

function intakeMessage(subject: string, violation: UrlViolation): string {
  switch (violation.rule) {
    case "invalid-url":
      return `${subject} must be valid absolute URLs`;
    case "scheme":
      return `${subject} must use https`;
    case "userinfo":
      return `${subject} may not carry a user name or password`;
    case "localhost":
      return `${subject} may not point at localhost`;
    case "address":
      return `${subject} may not point at a private or loopback address: ${violation.host} is ${describeRange(violation.range ?? "reserved")}`;
  }
}

/**
 * An https URL whose host is a name or a public IP, unless `policy` allows the host. `subject`
 * starts each message ("dataset URLs may not carry a user name or password").
 */
export function publicHttpsUrlSchema(policy: OutboundPolicy = DEFAULT_OUTBOUND_POLICY, subject = "URLs") {
  return z
    .string()
    .max(MAX_URL_LENGTH)
    .superRefine((url, ctx) => {
      const violation = findUrlViolation(url, policy);
      if (violation) ctx.addIssue({ code: "custom", message: intakeMessage(subject, violation) });
    });
}

/** The strict intake schema: no allowlist, as production runs. */
export const PublicHttpsUrlSchema = publicHttpsUrlSchema();
