import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { describe, expect, it } from "vitest";
import {
  checkOutboundUrl,
  OutboundRequestRefusedError,
  PublicHttpsUrlSchema,
  publicHttpsUrlSchema,
} from "../../src/net";

const SEED = 20260914;

/** The message zod gives for `url`, or null when accepted. */
function intake(url: string, schema = publicHttpsUrlSchema(undefined, "dataset URLs")): string | null {
  const parsed = schema.safeParse(url);
  return parsed.success ? null : (parsed.error.issues[0]?.message ?? "?");
}

function refusal(url: string, allowHosts: string[] = []): OutboundRequestRefusedError | null {
  try {
    checkOutboundUrl(url, { allowHosts });
    return null;
  } catch (error) {
    if (error instanceof OutboundRequestRefusedError) return error;
    throw error;
  }
}

describe("intake: publicHttpsUrlSchema", () => {
  it.each([
    [
      "https://169.254.169.254/latest/meta-data",
      "may not point at a private or loopback address: 169.254.169.254 is a link-local address (such as the cloud metadata service)",
    ],
    ["https://localhost:8443/x", "may not point at localhost"],
    ["https://LOCALHOST./x", "may not point at localhost"],
    ["https://api.localhost/x", "may not point at localhost"],
    ["https://[::1]/x", "may not point at a private or loopback address: [::1] is a loopback address"],
    ["https://[::ffff:127.0.0.1]/x", ": [::ffff:7f00:1] is a loopback address"],
    ["https://[::ffff:169.254.169.254]/x", "link-local"],
    ["https://[fd00::1]/x", "is a private address"],
    ["https://[fe80::1]/x", "is a link-local address"],
    ["https://2130706433/x", ": 127.0.0.1 is a loopback address"],
    ["https://0x7f.1/x", ": 127.0.0.1 is a loopback address"],
    ["https://017700000001/x", ": 127.0.0.1 is a loopback address"],
    ["https://127.1/x", ": 127.0.0.1 is a loopback address"],
    ["https://0/x", ": 0.0.0.0 is an unspecified address"],
    ["https://10.1.2.3/x", ": 10.1.2.3 is a private address"],
    ["https://192.168.0.10/x", "is a private address"],
    ["https://100.64.1.1/x", "carrier-grade NAT"],
    ["https://224.0.0.1/x", "multicast"],
    ["https://255.255.255.255/x", "broadcast"],
    ["https://user:pass@internal.corp/x", "dataset URLs may not carry a user name or password"],
    ["https://user@example.com/x", "may not carry a user name or password"],
    ["https://:secret@example.com/x", "may not carry a user name or password"],
    ["http://example.com/x", "dataset URLs must use https"],
    ["ftp://example.com/x", "must use https"],
    ["not a url", "must be valid absolute URLs"],
    ["/relative/path", "must be valid absolute URLs"],
  ])("refuses %s", (url, message) => {
    expect(intake(url)).toContain(message);
  });

  it("names the subject it was built for", () => {
    const callback = publicHttpsUrlSchema(undefined, "callbackUrl");
    expect(intake("https://10.0.0.1/hook", callback)).toMatch(/^callbackUrl may not point at a private/);
    expect(intake("https://u:p@example.com/", PublicHttpsUrlSchema)).toBe(
      "URLs may not carry a user name or password",
    );
  });

  it.each([
    "https://example.com/datasets/cats.tar.gz?X-Amz-Signature=abc",
    "https://datasets.example.test:8443/x.tar",
    "https://8.8.8.8/x.tar",
    "https://[2606:4700:4700::1111]/x.tar",
    "https://[::ffff:8.8.8.8]/x.tar",
    // Names are judged when resolved, not here.
    "https://internal.corp/x",
    "https://localhost.example.com/x",
    "https://127.0.0.1.nip.io/x",
  ])("accepts %s", (url) => {
    expect(intake(url)).toBeNull();
  });

  it("refuses over-long URLs", () => {
    expect(intake(`https://example.com/${"a".repeat(2100)}`)).toMatch(/2048/);
  });

  it("lets a deployment's allowlist through, and only its hosts", () => {
    const local = publicHttpsUrlSchema({ allowHosts: ["127.0.0.1", "localhost"] }, "dataset URLs");
    expect(intake("https://127.0.0.1:8443/x.tar", local)).toBeNull();
    expect(intake("https://2130706433:8443/x.tar", local)).toBeNull();
    expect(intake("https://localhost:8443/x.tar", local)).toBeNull();
    expect(intake("https://[::1]:8443/x.tar", local)).toMatch(/loopback/);
    expect(intake("https://10.0.0.1/x.tar", local)).toMatch(/private/);
    // The allowlist waives the address rules, never https or the userinfo rule.
    expect(intake("http://127.0.0.1/x.tar", local)).toMatch(/must use https/);
    expect(intake("https://u:p@localhost/x.tar", local)).toMatch(/user name or password/);
  });
});

describe("checkOutboundUrl", () => {
  it.each([
    ["https://169.254.169.254/latest/meta-data", "address", "linkLocal"],
    ["https://localhost:8443/x", "localhost", null],
    ["https://[::1]/x", "address", "loopback"],
    ["https://[::ffff:127.0.0.1]/x", "address", "loopback"],
    ["https://2130706433/x", "address", "loopback"],
    ["https://user:pass@internal.corp/x", "userinfo", null],
    ["http://example.com/x", "scheme", null],
    ["::::", "invalid-url", null],
  ])("refuses %s (%s)", (url, rule, range) => {
    const error = refusal(url);
    expect(error).toBeInstanceOf(OutboundRequestRefusedError);
    expect(error).toMatchObject({ rule, range, resolved: false, permanent: true });
    expect(error?.message).toBe(`the URL ${error?.reason}`);
  });

  it("names the rule and never the host it refused", () => {
    expect(refusal("https://169.254.169.254/latest/meta-data")?.message).toBe(
      "the URL points at a link-local address (such as the cloud metadata service)",
    );
    expect(refusal("https://user:pass@internal.corp/x")?.message).toBe(
      "the URL may not carry a user name or password",
    );
    expect(refusal("https://10.9.8.7/x")?.message).not.toContain("10.9.8.7");
  });

  it("passes public hosts, names and allowlisted hosts, returning the parsed URL", () => {
    expect(checkOutboundUrl("https://example.com/a?b=1", { allowHosts: [] }).pathname).toBe("/a");
    expect(refusal("https://internal.corp/x")).toBeNull();
    expect(refusal("https://127.0.0.1:9/x", ["127.0.0.1"])).toBeNull();
    expect(refusal("https://localhost:9/x", ["localhost"])).toBeNull();
    expect(refusal("https://[::1]:9/x", ["::1"])).toBeNull();
    expect(refusal("https://[::1]:9/x", ["127.0.0.1"])?.range).toBe("loopback");
  });
});

/** An independent oracle: ipaddr.js's own range, with mapped IPv6 unwrapped. */
function isPublicIp(host: string): boolean {
  let ip = ipaddr.parse(host.replace(/^\[|\]$/g, ""));
  if (ip.kind() === "ipv6" && (ip as ipaddr.IPv6).isIPv4MappedAddress())
    ip = (ip as ipaddr.IPv6).toIPv4Address();
  return ip.range() === "unicast";
}

const hostArb = fc.oneof(
  fc.ipV4(),
  fc.ipV4Extended(), // octal, hex and shortened forms the URL parser normalises
  fc.nat({ max: 0xffffffff }).map(String), // `https://2130706433/`
  fc.ipV6().map((ip) => `[${ip}]`),
  fc.ipV4().map((ip) => `[::ffff:${ip}]`),
  fc.domain(),
  fc.constantFrom("localhost", "LOCALHOST", "localhost.", "a.localhost", "0", "127.1", "[::]", "[::1]"),
);
const urlArb = fc
  .record({
    scheme: fc.constantFrom("https", "https", "https", "http"),
    userinfo: fc.constantFrom("", "", "", "user@", "user:pass@", ":pw@"),
    host: hostArb,
    port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    path: fc.webPath(),
  })
  .map(
    ({ scheme, userinfo, host, port, path }) =>
      `${scheme}://${userinfo}${host}${port ? `:${port}` : ""}${path}`,
  );

describe("intake property (fast-check, seeded)", () => {
  it("any URL the strict schema accepts is https, has no userinfo, and its host is a name or a public IP", () => {
    let accepted = 0;
    fc.assert(
      fc.property(urlArb, (url) => {
        if (!PublicHttpsUrlSchema.safeParse(url).success) return;
        accepted++;
        const parsed = new URL(url);
        expect(parsed.protocol).toBe("https:");
        expect(parsed.username + parsed.password).toBe("");
        const host = parsed.hostname;
        if (ipaddr.isValid(host.replace(/^\[|\]$/g, ""))) {
          expect(isPublicIp(host), host).toBe(true);
        } else {
          expect(host.replace(/\.$/, "")).not.toMatch(/(^|\.)localhost$/);
        }
      }),
      { seed: SEED, numRuns: 3000 },
    );
    // The generator must reach both sides of the rule for the property to mean anything.
    expect(accepted).toBeGreaterThan(300);
  });

  it("any address generated inside a blocked range is refused, in any spelling", () => {
    const octet = fc.integer({ min: 0, max: 255 });
    const blockedV4 = fc.oneof(
      fc.tuple(octet, octet, octet).map(([a, b, c]) => [127, a, b, c]),
      fc.tuple(octet, octet, octet).map(([a, b, c]) => [10, a, b, c]),
      fc.tuple(fc.integer({ min: 16, max: 31 }), octet, octet).map(([a, b, c]) => [172, a, b, c]),
      fc.tuple(octet, octet).map(([a, b]) => [192, 168, a, b]),
      fc.tuple(octet, octet).map(([a, b]) => [169, 254, a, b]),
      fc.tuple(fc.integer({ min: 64, max: 127 }), octet, octet).map(([a, b, c]) => [100, a, b, c]),
      fc.tuple(fc.integer({ min: 224, max: 239 }), octet, octet, octet),
      fc.tuple(octet, octet, octet).map(([a, b, c]) => [0, a, b, c]),
    );
    const spelled = blockedV4.chain((octets) => {
      const n = octets.reduce((acc, o) => acc * 256 + o, 0);
      return fc.constantFrom(
        octets.join("."),
        String(n),
        `0x${n.toString(16)}`,
        octets.map((o) => `0${o.toString(8)}`).join("."),
        `[::ffff:${octets.join(".")}]`,
      );
    });
    fc.assert(
      fc.property(spelled, fc.webPath(), (host, path) => {
        expect(PublicHttpsUrlSchema.safeParse(`https://${host}${path}`).success, host).toBe(false);
        expect(refusal(`https://${host}${path}`)?.rule, host).toBe("address");
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});
