/**
 * The rules a URL must pass before anything is sent to it, with no network: https only, no
 * `user:pass@`, not `localhost`, and an IP-literal host in no blocked range. Names are judged
 * again once resolved (`guardedLookup`): Node never resolves an IP literal, so this check is
 * the only one such a host gets, and every request (each redirect hop too) must make it.
 */
import { blockedRangeOf, isIpLiteral } from "./address";
import { type OutboundRefusal, OutboundRequestRefusedError } from "./errors";
import { isAllowedHost, type OutboundPolicy } from "./policy";

export interface UrlViolation extends OutboundRefusal {
  /** The host as the WHATWG parser normalised it (`2130706433` → `127.0.0.1`); empty if unparsable. */
  host: string;
}

/** `localhost`, `LOCALHOST.`, `anything.localhost`: names RFC 6761 reserves for loopback. */
function isLocalhostName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.+$/, "");
  return name === "localhost" || name.endsWith(".localhost");
}

/**
 * The first rule `url` breaks under `policy`, or null. The WHATWG parser does the host
 * normalisation (decimal, octal and hex IPv4, IDN, percent-escapes), so the host judged here is
 * the one a request would connect to.
 */
export function findUrlViolation(url: string, policy: OutboundPolicy): UrlViolation | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { rule: "invalid-url", host: "" };
  }
  const host = parsed.hostname;
  if (parsed.protocol !== "https:") return { rule: "scheme", host };
  if (parsed.username !== "" || parsed.password !== "") return { rule: "userinfo", host };
  if (isAllowedHost(host, policy)) return null;
  if (isLocalhostName(host)) return { rule: "localhost", host };
  if (isIpLiteral(host)) {
    const range = blockedRangeOf(host);
    if (range) return { rule: "address", range, host };
  }
  return null;
}

/**
 * Throws `OutboundRequestRefusedError` when `url` may not be requested under `policy`; returns
 * the parsed URL otherwise. Call it before every request, each redirect hop included.
 */
export function checkOutboundUrl(url: string | URL, policy: OutboundPolicy): URL {
  const text = url.toString();
  const violation = findUrlViolation(text, policy);
  if (violation) throw new OutboundRequestRefusedError(violation);
  return new URL(text);
}
