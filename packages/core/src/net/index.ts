/**
 * Outbound request safety, in one place: every URL the system fetches or posts to on a user's
 * behalf (HTTPS dataset sources, job callbacks) is checked at intake (`publicHttpsUrlSchema`),
 * before every request and redirect hop (`checkOutboundUrl`) and when its name is resolved
 * (`guardedHttpsAgent` / `guardedLookup`).
 */
export { type BlockedRange, blockedRangeOf, describeRange, isIpLiteral } from "./address";
export {
  type GuardedAgentOptions,
  guardedHttpsAgent,
  type OutboundRequestOptions,
  outboundPolicyOf,
  outboundRequestOptions,
} from "./agent";
export { type OutboundRefusal, OutboundRequestRefusedError, type OutboundRule } from "./errors";
export { type GuardedLookupOptions, guardedLookup, isGuardedLookup, type LookupFunction } from "./lookup";
export {
  DEFAULT_OUTBOUND_POLICY,
  isAllowedHost,
  normalizeHost,
  type OutboundPolicy,
  OutboundPolicySchema,
  parseOutboundAllowHosts,
} from "./policy";
export { checkOutboundUrl, findUrlViolation, type UrlViolation } from "./url-check";
export { MAX_URL_LENGTH, PublicHttpsUrlSchema, publicHttpsUrlSchema } from "./url-schema";
