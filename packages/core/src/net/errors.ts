/**
 * The refusal of an outbound request made on a user's behalf. It is permanent: the URL or what
 * its name resolves to is not allowed, and asking again will not change that, so the caller
 * fails the job (or drops the callback) instead of retrying. Its text names the rule broken and
 * never anything the refused host said (nothing was sent to it).
 */
import { type BlockedRange, describeRange } from "./address";

/** `scheme`: not https; `userinfo`: `user:pass@`; `localhost`: the name; `address`: a blocked IP. */
export type OutboundRule = "invalid-url" | "scheme" | "userinfo" | "localhost" | "address";

export interface OutboundRefusal {
  rule: OutboundRule;
  /** For `address`: the range the (literal or resolved) address is in. */
  range?: BlockedRange | null;
  /** For `address`: the host was a name and the refused address is what it resolved to. */
  resolved?: boolean;
}

export class OutboundRequestRefusedError extends Error {
  override readonly name = "OutboundRequestRefusedError";
  readonly rule: OutboundRule;
  readonly range: BlockedRange | null;
  readonly resolved: boolean;
  /** Never worth retrying. */
  readonly permanent = true as const;
  /** The rule as a predicate, for callers that name the URL themselves: "points at a private address". */
  readonly reason: string;

  constructor(refusal: OutboundRefusal) {
    const reason = reasonOf(refusal);
    super(`the URL ${reason}`);
    this.rule = refusal.rule;
    this.range = refusal.range ?? null;
    this.resolved = refusal.resolved ?? false;
    this.reason = reason;
  }
}

function reasonOf({ rule, range, resolved }: OutboundRefusal): string {
  switch (rule) {
    case "invalid-url":
      return "is not a valid URL";
    case "scheme":
      return "must use https";
    case "userinfo":
      return "may not carry a user name or password";
    case "localhost":
      return "points at localhost";
    case "address": {
      const label = describeRange(range ?? "reserved");
      return resolved ? `has a host name that resolves to ${label}` : `points at ${label}`;
    }
  }
}
