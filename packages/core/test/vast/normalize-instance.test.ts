import { describe, expect, it } from "vitest";
import { deriveInstanceState, normalizeInstance, VastInstanceSchema } from "../../src/vast";
import { provisioningInstance, runningInstanceV1, showInstanceV0 } from "./fixtures/raw";

describe("normalizeInstance fixtures (docs/vast-quirks.md#instances)", () => {
  it("normalizes a running v1 row, preferring the direct SSH mapping (HostPort is a string)", () => {
    const instance = normalizeInstance(runningInstanceV1);
    expect(instance).toEqual({
      instanceId: 38250,
      state: "running",
      rawStatus: "running",
      intendedStatus: "running",
      statusMessage: "success, running pytorch/pytorch_latest/ssh",
      label: "vast-rental:job-1:1",
      machineId: 4412,
      hostId: 991,
      gpuName: "RTX 4090",
      numGpus: 1,
      hourlyUsd: 0.4213,
      publicIp: "203.0.113.7",
      sshHost: "203.0.113.7",
      sshPort: 41022,
      sshVia: "direct",
      countryCode: "US",
      startedAtMs: 1_700_000_000_250,
    });
    expect(VastInstanceSchema.safeParse(instance).success).toBe(true);
  });

  it("falls back to the proxy while loading, with nulls and an empty status_msg", () => {
    const instance = normalizeInstance(provisioningInstance);
    expect(instance).toMatchObject({
      instanceId: 38251,
      state: "provisioning",
      rawStatus: null,
      statusMessage: null,
      label: null,
      publicIp: null,
      sshHost: "ssh2281.vast.ai",
      sshPort: 12345,
      sshVia: "proxy",
      countryCode: null,
      startedAtMs: null,
    });
  });

  it("accepts numeric strings, padded strings and the v0 int-array ports", () => {
    const instance = normalizeInstance(showInstanceV0);
    expect(instance).toMatchObject({
      instanceId: 38252,
      machineId: 77,
      state: "loading",
      rawStatus: "Loading",
      statusMessage: "pulling image",
      label: null,
      numGpus: 2,
      hourlyUsd: 0.8,
      // int-array ports carry no host port, so the proxy is used
      sshHost: "ssh9.vast.ai",
      sshPort: 40100,
      sshVia: "proxy",
      countryCode: "US",
    });
  });

  it("uses the proxy when ports lacks 22/tcp (newer API) or has an unusable HostPort", () => {
    const base = { id: 1, public_ipaddr: "1.2.3.4", ssh_host: "ssh1.vast.ai", ssh_port: 2222 };
    for (const ports of [
      {},
      { "22/tcp": null },
      { "22/tcp": [] },
      { "22/tcp": [{ HostPort: "abc" }] },
      { "22/tcp": [{ HostPort: "0" }] },
      { "22/tcp": [{ HostPort: 70000 }] },
      "22/tcp",
      null,
    ]) {
      expect(normalizeInstance({ ...base, ports })).toMatchObject({
        sshHost: "ssh1.vast.ai",
        sshPort: 2222,
        sshVia: "proxy",
      });
    }
  });

  it("uses the direct mapping only with a public IP", () => {
    const instance = normalizeInstance({
      id: 1,
      public_ipaddr: "  ",
      ports: { "22/tcp": [{ HostPort: "4000" }] },
    });
    expect(instance).toMatchObject({ sshHost: null, sshPort: null, sshVia: null, publicIp: null });
  });

  it("has no SSH endpoint when neither mapping is complete", () => {
    expect(normalizeInstance({ id: 1, ssh_host: "ssh1.vast.ai", ssh_port: null })).toMatchObject({
      sshHost: null,
      sshPort: null,
      sshVia: null,
    });
  });

  it("reads the country from country_code first, else the last part of geolocation", () => {
    const country = (extra: Record<string, unknown>) => normalizeInstance({ id: 1, ...extra })?.countryCode;
    expect(country({ country_code: "de", geolocation: "Washington, US" })).toBe("DE");
    expect(country({ country_code: "", geolocation: ", US" })).toBe("US");
    expect(country({ geolocation: "Tokyo, JP" })).toBe("JP");
    expect(country({ geolocation: "Bavaria, Germany" })).toBe("DE");
    expect(country({ geolocation: "Somewhere, Atlantis" })).toBeNull();
    expect(country({ geolocation: null })).toBeNull();
    expect(country({ country_code: "XX", geolocation: "London, UK" })).toBe("GB");
  });

  it("maps cur_state unloaded (after destroy) to destroyed whatever actual_status says", () => {
    expect(normalizeInstance({ ...runningInstanceV1, cur_state: "unloaded" })?.state).toBe("destroyed");
  });

  it("rejects records without a usable id, and non-objects", () => {
    for (const raw of [
      {},
      { id: null },
      { id: "abc" },
      { id: 0 },
      { id: -3 },
      { id: 1.5 },
      null,
      "38250",
      38250,
      [runningInstanceV1],
    ]) {
      expect(normalizeInstance(raw)).toBeNull();
    }
  });

  it("ignores unknown fields and wrongly typed ones", () => {
    const instance = normalizeInstance({
      id: 5,
      actual_status: 42,
      label: { nested: true },
      num_gpus: "two",
      dph_total: true,
      start_date: "yesterday",
      gpu_name: ["RTX 4090"],
      brand_new_field: { anything: [1, 2, 3] },
    });
    expect(instance).toMatchObject({
      instanceId: 5,
      state: "provisioning",
      label: null,
      numGpus: null,
      hourlyUsd: null,
      startedAtMs: null,
      gpuName: null,
    });
  });
});

describe("deriveInstanceState", () => {
  const state = (
    actualStatus: string | null,
    statusMessage: string | null = null,
    curState: string | null = null,
  ) => deriveInstanceState({ actualStatus, statusMessage, curState });

  it.each([
    [null, "provisioning"],
    ["created", "provisioning"],
    ["scheduling", "provisioning"],
    ["loading", "loading"],
    ["rebooting", "loading"],
    ["running", "running"],
    ["RUNNING", "running"],
    ["stopped", "stopped"],
    ["frozen", "stopped"],
    ["exited", "exited"],
    ["offline", "offline"],
    ["unknown", "unknown"],
    ["restarting-ish", "unknown"],
    ["__proto__", "unknown"],
  ])("actual_status %s → %s", (status, expected) => {
    expect(state(status)).toBe(expected);
  });

  it.each([
    "Error response from daemon: OCI runtime create failed: container_linux.go:380: starting container process caused",
    "pull access denied for private/image, repository does not exist or may require 'docker login'",
    "manifest for pytorch/pytorch:nope not found: manifest unknown",
    "Error: manifest unknown",
    "unauthorized: authentication required",
  ])("a fatal status_msg while provisioning or loading means failed: %s", (message) => {
    expect(state("created", message)).toBe("failed");
    expect(state(null, message)).toBe("failed");
    expect(state("loading", message)).toBe("failed");
    // Once running (or stopped), an old message does not rewrite the state.
    expect(state("running", message)).toBe("running");
    expect(state("exited", message)).toBe("exited");
  });

  it("a harmless status_msg does not fail the instance", () => {
    expect(state("loading", "Pulling fs layer 3/12")).toBe("loading");
  });

  it("unloaded wins over everything", () => {
    expect(state("running", null, "unloaded")).toBe("destroyed");
    expect(state(null, "OCI runtime create failed", "Unloaded")).toBe("destroyed");
  });
});
