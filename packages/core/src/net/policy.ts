/**
 * Which hosts may be reached even though they are not public: the deployment's allowlist.
 * Production leaves it empty (no loopback, no private network, anywhere); tests and the local
 * stack list their loopback receivers. The allowlist names hosts as written in URLs, so a name
 * that merely resolves to an allowed address is still refused.
 */
import { domainToASCII } from "node:url";
import ipaddr from "ipaddr.js";
import { z } from "zod";
import { isIpLiteral, unbracket } from "./address";

export interface OutboundPolicy {
  /** Host names or IP literals (`127.0.0.1`, `::1`, `localhost`) allowed whatever they resolve to. */
  readonly allowHosts: readonly string[];
}

/** Refuses every non-public address and every `localhost`. */
export const DEFAULT_OUTBOUND_POLICY: OutboundPolicy = Object.freeze({ allowHosts: Object.freeze([]) });

/**
 * One comparable spelling of a host: lower case, no brackets, no trailing dot, IDN as
 * punycode, IP literals in ipaddr.js's canonical form (so `::1` matches `0:0::1`).
 */
export function normalizeHost(host: string): string {
  const bare = unbracket(host.trim()).replace(/\.+$/, "").toLowerCase();
  if (isIpLiteral(bare)) return ipaddr.parse(bare).toString();
  return domainToASCII(bare) || bare;
}

/** True when `host` (as in a URL, brackets allowed) is on the policy's allowlist. */
export function isAllowedHost(host: string, policy: OutboundPolicy): boolean {
  if (policy.allowHosts.length === 0) return false;
  const wanted = normalizeHost(host);
  return policy.allowHosts.some((allowed) => normalizeHost(allowed) === wanted);
}

/** A bare host: a DNS name or an IP literal; no scheme, port, path or wildcard. */
const AllowHostSchema = z
  .string()
  .trim()
  .min(1)
  .max(253)
  .refine(
    (host) =>
      isIpLiteral(host) || /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i.test(host),
    "allowed hosts are host names or IP addresses, without scheme, port, path or wildcard",
  );

export const OutboundPolicySchema = z.object({ allowHosts: z.array(AllowHostSchema).readonly() });

/**
 * Reads a comma-separated allowlist (an `OUTBOUND_ALLOW_HOSTS`-style variable). Unset or blank
 * gives the default, strict policy; a malformed entry throws, naming it.
 */
export function parseOutboundAllowHosts(text: string | undefined): OutboundPolicy {
  const entries = (text ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  if (entries.length === 0) return DEFAULT_OUTBOUND_POLICY;
  for (const entry of entries) {
    if (!AllowHostSchema.safeParse(entry).success) {
      throw new Error(
        `not an allowed-host entry: ${JSON.stringify(entry)} (host names or IP addresses only)`,
      );
    }
  }
  return Object.freeze({ allowHosts: Object.freeze(entries) });
}
