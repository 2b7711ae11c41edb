import { describe, expect, it } from "vitest";
import {
  type BlockedRange,
  blockedRangeOf,
  isAllowedHost,
  isIpLiteral,
  normalizeHost,
  parseOutboundAllowHosts,
} from "../../src/net";

describe("blockedRangeOf: IPv4", () => {
  it.each<[string, BlockedRange | null]>([
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["10.0.0.1", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "linkLocal"],
    ["169.254.0.1", "linkLocal"],
    ["100.64.0.1", "carrierGradeNat"],
    ["100.127.255.255", "carrierGradeNat"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["255.255.255.255", "broadcast"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["192.0.2.10", "reserved"],
    ["198.51.100.7", "reserved"],
    ["203.0.113.9", "reserved"],
    ["198.18.0.1", "reserved"],
    ["240.0.0.1", "reserved"],
    ["192.0.0.8", "reserved"],
    // Public unicast, including neighbours of the blocked ranges.
    ["1.1.1.1", null],
    ["8.8.8.8", null],
    ["172.15.255.255", null],
    ["172.32.0.1", null],
    ["100.63.255.255", null],
    ["100.128.0.1", null],
    ["169.253.255.255", null],
    ["11.0.0.1", null],
    ["126.255.255.255", null],
    ["128.0.0.1", null],
  ])("%s → %s", (address, range) => {
    expect(blockedRangeOf(address)).toBe(range);
  });
});

describe("blockedRangeOf: IPv6", () => {
  it.each<[string, BlockedRange | null]>([
    ["::1", "loopback"],
    ["[::1]", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["::", "unspecified"],
    ["fe80::1", "linkLocal"],
    ["febf:ffff::1", "linkLocal"],
    ["fc00::1", "private"],
    ["fd12:3456:789a::1", "private"],
    ["fec0::1", "private"],
    ["ff02::1", "multicast"],
    ["2001:db8::1", "reserved"],
    // Forms that embed an IPv4 address behind a translator or tunnel: refused outright.
    ["64:ff9b::7f00:1", "reserved"],
    ["64:ff9b::808:808", "reserved"],
    ["2002:7f00:1::1", "reserved"],
    ["2001:0:4136:e378::1", "reserved"],
    ["::ffff:0:7f00:1", "reserved"],
    // Outside 2000::/3: the deprecated IPv4-compatible form and unassigned space.
    ["::7f00:1", "reserved"],
    ["::2", "reserved"],
    ["4000::1", "reserved"],
    // Global unicast.
    ["2606:4700:4700::1111", null],
    ["2a00:1450:4001:80b::200e", null],
  ])("%s → %s", (address, range) => {
    expect(blockedRangeOf(address)).toBe(range);
  });
});

describe("blockedRangeOf: IPv4-mapped IPv6 is judged as the IPv4 address it carries", () => {
  it.each<[string, BlockedRange | null]>([
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["[::ffff:7f00:1]", "loopback"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:192.168.0.1", "private"],
    ["::ffff:169.254.169.254", "linkLocal"],
    ["::ffff:a9fe:a9fe", "linkLocal"],
    ["::ffff:100.64.0.1", "carrierGradeNat"],
    ["::ffff:0.0.0.0", "unspecified"],
    ["::ffff:255.255.255.255", "broadcast"],
    ["::ffff:224.0.0.1", "multicast"],
    ["::ffff:8.8.8.8", null],
  ])("%s → %s", (address, range) => {
    expect(blockedRangeOf(address)).toBe(range);
  });

  it("refuses what does not parse (fail closed)", () => {
    for (const junk of ["", "example.com", "1.2.3.4.5", "::g", "999.1.1.1"]) {
      expect(blockedRangeOf(junk), junk).toBe("reserved");
    }
  });
});

describe("hosts and the allowlist", () => {
  it("tells IP literals from names", () => {
    expect(isIpLiteral("127.0.0.1")).toBe(true);
    expect(isIpLiteral("[::1]")).toBe(true);
    expect(isIpLiteral("::ffff:7f00:1")).toBe(true);
    expect(isIpLiteral("localhost")).toBe(false);
    expect(isIpLiteral("example.com")).toBe(false);
  });

  it("matches hosts in one canonical spelling", () => {
    expect(normalizeHost("[0:0::1]")).toBe("::1");
    expect(normalizeHost("LocalHost.")).toBe("localhost");
    expect(normalizeHost("bücher.example")).toBe("xn--bcher-kva.example");
    const policy = { allowHosts: ["127.0.0.1", "::1", "LOCALHOST", "Datasets.Test"] };
    for (const host of [
      "127.0.0.1",
      "[::1]",
      "0:0:0:0:0:0:0:1",
      "localhost",
      "localhost.",
      "datasets.test",
    ]) {
      expect(isAllowedHost(host, policy), host).toBe(true);
    }
    // Host names are allowed by name: another name, or another spelling of the address family, is not.
    for (const host of ["127.0.0.2", "::ffff:127.0.0.1", "a.localhost", "datasets.test.evil", "10.0.0.1"]) {
      expect(isAllowedHost(host, policy), host).toBe(false);
    }
    expect(isAllowedHost("127.0.0.1", { allowHosts: [] })).toBe(false);
  });

  it("reads an allowlist from a comma-separated variable, refusing malformed entries", () => {
    expect(parseOutboundAllowHosts(undefined).allowHosts).toEqual([]);
    expect(parseOutboundAllowHosts(" ").allowHosts).toEqual([]);
    expect(parseOutboundAllowHosts("127.0.0.1, localhost ,::1,").allowHosts).toEqual([
      "127.0.0.1",
      "localhost",
      "::1",
    ]);
    for (const bad of ["https://localhost", "localhost:8443", "*.internal", "10.0.0.0/8", "a b"]) {
      expect(() => parseOutboundAllowHosts(`127.0.0.1,${bad}`), bad).toThrow(JSON.stringify(bad));
    }
  });
});
