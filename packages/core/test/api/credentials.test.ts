/**
 * The API's credentials as the secret holds them: `apiKeys` and `submissionSecrets` (JSON objects
 * `API_KEYS` / `SUBMISSION_SECRETS` in local runs), absent meaning none, every value redacted.
 */
import { describe, expect, it } from "vitest";
import { apiCredentialsFrom } from "../../src/api";
import { loadSecrets, SecretsError, secretValues } from "../../src/config";

const base = { VASTAI_API_KEY: "vast-key-0123456789", VASTAI_SSH_PRIVATE_KEY: "-----BEGIN KEY-----x" };

describe("the API's secrets", () => {
  it("reads named API keys and submission secrets from the environment, all of them redacted", async () => {
    const secrets = await loadSecrets({
      env: {
        ...base,
        API_KEYS: JSON.stringify({ ops: "ops-key-0123456789abcdef" }),
        SUBMISSION_SECRETS: JSON.stringify({ shop: "shop-secret-0123456789" }),
        WEBHOOK_SECRETS: JSON.stringify({ vast: "whsec-0123456789", vastPrevious: "whsec-old-0123456789" }),
      },
    });
    expect(apiCredentialsFrom(secrets)).toEqual({
      apiKeys: { ops: "ops-key-0123456789abcdef" },
      submissionSecrets: { shop: "shop-secret-0123456789" },
      vastWebhookSecret: "whsec-0123456789",
      vastWebhookPreviousSecret: "whsec-old-0123456789",
    });
    expect(secretValues(secrets)).toEqual(
      expect.arrayContaining([
        "ops-key-0123456789abcdef",
        "shop-secret-0123456789",
        "whsec-0123456789",
        "whsec-old-0123456789",
      ]),
    );
  });

  it("absent means none: every authenticated route is then refused", async () => {
    const secrets = await loadSecrets({ env: base });
    expect(apiCredentialsFrom(secrets)).toEqual({
      apiKeys: {},
      submissionSecrets: {},
      vastWebhookSecret: null,
      vastWebhookPreviousSecret: null,
    });
  });

  it("names a malformed variable without echoing it", async () => {
    for (const name of ["API_KEYS", "SUBMISSION_SECRETS"]) {
      const error = await loadSecrets({ env: { ...base, [name]: "{ops: secret-value-xyz" } }).catch((e) => e);
      expect(error).toBeInstanceOf(SecretsError);
      expect(error.message).toBe(`${name} is not a JSON object`);
    }
    const wrongShape = await loadSecrets({ env: { ...base, API_KEYS: JSON.stringify({ ops: 42 }) } }).catch(
      (e) => e,
    );
    expect(wrongShape.message).toBe("environment: apiKeys.ops is missing or malformed");
  });
});
