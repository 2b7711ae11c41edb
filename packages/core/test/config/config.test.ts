import "aws-sdk-client-mock-vitest/extend";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it, onTestFinished } from "vitest";
import {
  assertSigningSecretsSeparate,
  ConfigError,
  loadRuntimeConfig,
  loadSecrets,
  publicKeyFromPrivate,
  redactingLogger,
  SecretsError,
  SharedSigningSecretError,
  secretValues,
} from "../../src/config";
import { createRecordingLogger, REDACTED } from "../../src/observability";

const sm = new SecretsManagerClient({ region: "us-east-1" });
const mock = mockClient(sm);
const SECRET = {
  vastApiKey: "vast-key-0123456789abcdef",
  sshPrivateKey:
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n-----END OPENSSH PRIVATE KEY-----",
  webhookSecrets: { vast: "whsec-topsecret-42" },
};

beforeEach(() => mock.reset());

describe("loadSecrets", () => {
  it("reads the JSON secret from Secrets Manager through Powertools, cached", async () => {
    mock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(SECRET) });
    const env = { SECRET_ID: "vast-rental/prod" };
    expect(await loadSecrets({ env, client: sm })).toEqual(SECRET);
    expect(await loadSecrets({ env, client: sm })).toEqual(SECRET);
    expect(mock).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: "vast-rental/prod" });
    expect(mock).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
  });

  it("names what is missing without echoing any secret value", async () => {
    mock
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ vastApiKey: SECRET.vastApiKey }) });
    const error = await loadSecrets({ env: { SECRET_ID: "s2" }, client: sm }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretsError);
    expect((error as Error).message).toContain("sshPrivateKey is missing or malformed");
    expect((error as Error).message).not.toContain(SECRET.vastApiKey);
  });

  it("reports an unreadable secret by error name only (throttling included)", async () => {
    mock
      .on(GetSecretValueCommand)
      .rejects(
        Object.assign(new Error(`Rate exceeded for ${SECRET.vastApiKey}`), { name: "ThrottlingException" }),
      );
    const error = await loadSecrets({ env: { SECRET_ID: "s3" }, client: sm }).catch((e: unknown) => e);
    expect((error as Error).message).toBe("cannot read secret s3: ThrottlingException");
  });

  it("reads from the environment in local runs (key file path)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "secrets-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, "id"), SECRET.sshPrivateKey);
    const secrets = await loadSecrets({
      env: {
        VASTAI_API_KEY: SECRET.vastApiKey,
        VASTAI_SSH_KEY_PATH: join(dir, "id"),
        WEBHOOK_SECRETS: JSON.stringify(SECRET.webhookSecrets),
      },
    });
    expect(secrets).toEqual(SECRET);
    expect(secretValues(secrets)).toEqual([SECRET.vastApiKey, SECRET.sshPrivateKey, "whsec-topsecret-42"]);
    await expect(loadSecrets({ env: {} })).rejects.toThrow("vastApiKey is missing or malformed");
  });

  it("takes the Hugging Face token from the secret or HF_TOKEN, redacts it, and names a malformed one only", async () => {
    const hfToken = "hf_AbCdEf0123456789xyz";
    mock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ ...SECRET, hfToken }) });
    const fromSecret = await loadSecrets({ env: { SECRET_ID: "with-hf" }, client: sm });
    expect(fromSecret.hfToken).toBe(hfToken);
    expect(secretValues(fromSecret)).toContain(hfToken);
    const base = { VASTAI_API_KEY: SECRET.vastApiKey, VASTAI_SSH_PRIVATE_KEY: SECRET.sshPrivateKey };
    expect((await loadSecrets({ env: { ...base, HF_TOKEN: hfToken } })).hfToken).toBe(hfToken);
    expect((await loadSecrets({ env: base })).hfToken).toBeUndefined();
    for (const bad of ["hf_with space inside", "hf_line\nbreak", "short"]) {
      const error = await loadSecrets({ env: { ...base, HF_TOKEN: bad } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SecretsError);
      expect((error as Error).message).toBe("environment: hfToken is missing or malformed");
    }
  });

  it("refuses a callback signing secret that is also a submission secret, naming the secrets only", async () => {
    const shared = "one-secret-for-both-ways-0123456789";
    const both = {
      ...SECRET,
      webhookSecrets: { ...SECRET.webhookSecrets, callbacks: shared },
      submissionSecrets: { shop: "a-different-secret-0123456789", legacy: shared },
    };
    mock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(both) });
    const fromManager = await loadSecrets({ env: { SECRET_ID: "s-shared" }, client: sm }).catch(
      (e: unknown) => e,
    );
    const fromEnv = await loadSecrets({
      env: {
        VASTAI_API_KEY: SECRET.vastApiKey,
        VASTAI_SSH_PRIVATE_KEY: SECRET.sshPrivateKey,
        WEBHOOK_SECRETS: JSON.stringify(both.webhookSecrets),
        SUBMISSION_SECRETS: JSON.stringify(both.submissionSecrets),
      },
    }).catch((e: unknown) => e);
    for (const error of [fromManager, fromEnv]) {
      expect(error).toBeInstanceOf(SharedSigningSecretError);
      expect(error).toBeInstanceOf(SecretsError);
      expect((error as SharedSigningSecretError).secretNames).toEqual([
        "webhookSecrets.callbacks",
        "submissionSecrets.legacy",
      ]);
      expect((error as Error).message).toContain("webhookSecrets.callbacks");
      expect((error as Error).message).toContain("submissionSecrets.legacy");
      expect((error as Error).message).not.toContain("submissionSecrets.shop");
      expect((error as Error).message).not.toContain(shared);
    }

    // Distinct secrets load; so does a submission secret alone, or a callback secret alone.
    const distinct = { ...both, submissionSecrets: { shop: "a-different-secret-0123456789" } };
    mock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(distinct) });
    expect(await loadSecrets({ env: { SECRET_ID: "s-distinct" }, client: sm })).toEqual(distinct);
    expect(() =>
      assertSigningSecretsSeparate({ ...SECRET, submissionSecrets: { shop: shared } }),
    ).not.toThrow();
    expect(() => assertSigningSecretsSeparate({ ...both, submissionSecrets: undefined })).not.toThrow();
  });
});

describe("redactingLogger", () => {
  it("never lets a secret reach the log, in messages, attributes or nested errors", () => {
    const inner = createRecordingLogger();
    const logger = redactingLogger(inner, () => secretValues(SECRET));
    logger.error(`Vast said: bad key ${SECRET.vastApiKey}`, {
      url: `https://console.vast.ai/api/v0/bundles/?api_key=${SECRET.vastApiKey}`,
      nested: { detail: [SECRET.webhookSecrets.vast], privateKey: "whatever" },
      authorization: "Bearer x",
    });
    logger.info("plain");
    const text = JSON.stringify(inner.records);
    for (const value of secretValues(SECRET)) expect(text).not.toContain(value);
    expect(inner.records[0]?.message).toBe(`Vast said: bad key ${REDACTED}`);
    expect(inner.records[0]?.attributes).toMatchObject({
      authorization: REDACTED,
      nested: { privateKey: REDACTED },
    });
    expect(inner.records[1]).toEqual({ level: "info", message: "plain", attributes: undefined });
  });
});

describe("loadRuntimeConfig", () => {
  it("reads the resources from the environment and names what is missing", () => {
    const env = {
      TABLE_NAME: "jobs",
      PROVISION_QUEUE_URL: "http://localhost:4566/000/provision",
      PUSH_QUEUE_URL: "http://localhost:4566/000/push",
      EVENT_BUS_NAME: "bus",
    };
    expect(loadRuntimeConfig(env)).toMatchObject({
      TABLE_NAME: "jobs",
      POWERTOOLS_SERVICE_NAME: "vast-rental",
    });
    expect(() => loadRuntimeConfig({ ...env, TABLE_NAME: undefined })).toThrow(ConfigError);
    expect(() => loadRuntimeConfig({})).toThrow(
      /TABLE_NAME, PROVISION_QUEUE_URL, PUSH_QUEUE_URL, EVENT_BUS_NAME/,
    );
  });
});

describe("publicKeyFromPrivate", () => {
  it("derives the OpenSSH public key line Vast injects, and never echoes a bad key", async () => {
    // ssh-keygen writes the pair: an independent reference (ssh2's own generator is not one; see
    // test/support/ssh-keys.ts).
    const dir = await mkdtemp(join(tmpdir(), "vr-key-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "x", "-f", join(dir, "id")]);
    const privateKey = await readFile(join(dir, "id"), "utf8");
    const publicLine = await readFile(join(dir, "id.pub"), "utf8");
    expect(publicKeyFromPrivate(privateKey)).toBe(publicLine.split(" ").slice(0, 2).join(" "));
    const bad =
      "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-key-secret-material\n-----END OPENSSH PRIVATE KEY-----";
    expect(() => publicKeyFromPrivate(bad)).toThrow("the SSH private key cannot be parsed");
    try {
      publicKeyFromPrivate(bad);
    } catch (error) {
      expect((error as Error).message).not.toContain("secret-material");
    }
  });
});
