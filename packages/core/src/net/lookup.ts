/**
 * DNS resolution that refuses blocked addresses: the check for host names, made on the address
 * the connection will actually use, so a name that resolves (or is rebound) to 10.0.0.1 or
 * 169.254.169.254 is refused before any socket connects. If a name has several addresses and
 * any is blocked, the name is refused: a mixed answer is how rebinding hides.
 */
import { lookup as dnsLookup } from "node:dns";
import type { LookupFunction } from "node:net";
import { blockedRangeOf } from "./address";
import { OutboundRequestRefusedError } from "./errors";
import { isAllowedHost, type OutboundPolicy } from "./policy";

export type { LookupFunction } from "node:net";

export interface GuardedLookupOptions {
  policy: OutboundPolicy;
  /** Resolves names (default `dns.lookup`); tests map names to addresses without DNS. */
  resolver?: LookupFunction;
}

/** Lookups made by `guardedLookup`, so an agent carrying some other lookup can be told apart. */
const guarded = new WeakSet<LookupFunction>();

export function isGuardedLookup(lookup: unknown): boolean {
  return typeof lookup === "function" && guarded.has(lookup as LookupFunction);
}

/** A `lookup` for `net`/`tls`/`https` options that refuses blocked addresses unless the host is allowed. */
export function guardedLookup(options: GuardedLookupOptions): LookupFunction {
  const { policy } = options;
  const resolver = options.resolver ?? (dnsLookup as LookupFunction);
  const lookup: LookupFunction = (hostname, lookupOptions, callback) => {
    resolver(hostname, lookupOptions, (error, address, family) => {
      if (error || isAllowedHost(hostname, policy)) return callback(error, address, family);
      const addresses = Array.isArray(address) ? address.map((entry) => entry.address) : [address];
      for (const candidate of addresses) {
        const range = blockedRangeOf(candidate);
        if (range) {
          const refused = new OutboundRequestRefusedError({ rule: "address", range, resolved: true });
          return callback(refused, Array.isArray(address) ? [] : "", undefined);
        }
      }
      callback(null, address, family);
    });
  };
  guarded.add(lookup);
  return lookup;
}
