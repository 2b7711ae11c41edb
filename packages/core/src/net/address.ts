/**
 * Which IP addresses a request made on a user's behalf may reach: public unicast only. The
 * range classification is ipaddr.js's (maintained, each range cited to its RFC); this file only
 * decides which of its ranges are refused and how to name them.
 */
import ipaddr from "ipaddr.js";

/** Why an address is refused, named for people. */
export type BlockedRange =
  | "loopback"
  | "private"
  | "linkLocal"
  | "multicast"
  | "unspecified"
  | "broadcast"
  | "carrierGradeNat"
  | "reserved";

const RANGE_LABELS: Record<BlockedRange, string> = {
  loopback: "a loopback address",
  private: "a private address",
  linkLocal: "a link-local address (such as the cloud metadata service)",
  multicast: "a multicast address",
  unspecified: "an unspecified address",
  broadcast: "a broadcast address",
  carrierGradeNat: "a carrier-grade NAT address",
  reserved: "a reserved address",
};

/** `private` → "a private address": the words an error message uses. */
export function describeRange(range: BlockedRange): string {
  return RANGE_LABELS[range];
}

/**
 * IANA's IPv6 global unicast space. ipaddr.js calls anything outside its special ranges
 * `unicast`, which still includes unassigned space such as the deprecated IPv4-compatible
 * `::7f00:1`; only 2000::/3 is routed on the public Internet.
 */
const IPV6_GLOBAL_UNICAST = ipaddr.parseCIDR("2000::/3");

/** `[::1]` → `::1`; IPv6 literals in URLs keep their brackets. */
export function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** True for an IPv4 or IPv6 literal (brackets allowed), in the forms ipaddr.js accepts. */
export function isIpLiteral(host: string): boolean {
  return ipaddr.isValid(unbracket(host));
}

/**
 * The blocked range `address` falls in, or null for a public unicast address. IPv4-mapped IPv6
 * (`::ffff:127.0.0.1`) is judged as the IPv4 address it carries. Other IPv6 forms that embed
 * IPv4 (NAT64 `64:ff9b::/96`, 6to4, Teredo, SIIT) are refused outright rather than unwrapped:
 * they reach an IPv4 host through a translator whose own rules we cannot see. Anything that
 * does not parse is refused too (fail closed).
 */
export function blockedRangeOf(address: string): BlockedRange | null {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.parse(unbracket(address));
  } catch {
    return "reserved";
  }
  if (ip.kind() === "ipv6" && (ip as ipaddr.IPv6).isIPv4MappedAddress()) {
    ip = (ip as ipaddr.IPv6).toIPv4Address();
  }
  if (ip.kind() === "ipv4") return ipv4Verdict((ip as ipaddr.IPv4).range());
  const v6 = ip as ipaddr.IPv6;
  const range = v6.range();
  if (range === "unicast") return v6.match(IPV6_GLOBAL_UNICAST) ? null : "reserved";
  return ipv6Verdict(range);
}

function ipv4Verdict(range: string): BlockedRange | null {
  switch (range) {
    case "unicast":
      return null;
    case "loopback":
    case "private":
    case "linkLocal":
    case "multicast":
    case "unspecified":
    case "broadcast":
    case "carrierGradeNat":
      return range;
    default:
      // reserved, documentation, benchmarking, AS112, AMT, and any range a later ipaddr.js adds.
      return "reserved";
  }
}

function ipv6Verdict(range: string): BlockedRange {
  switch (range) {
    case "loopback":
    case "linkLocal":
    case "multicast":
    case "unspecified":
      return range;
    // fc00::/7 and the retired fec0::/10 are IPv6's private networks.
    case "uniqueLocal":
    case "deprecatedSiteLocal":
      return "private";
    default:
      return "reserved";
  }
}
