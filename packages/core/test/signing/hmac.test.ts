/**
 * The one signing scheme: the MAC covers `<timestamp header as received>.<raw body>`, so a header
 * that parses to the same number but is not the string that was signed (a leading zero) fails.
 */
import { describe, expect, it } from "vitest";
import { verifySubmissionSignature } from "../../src/api/signed-submission";
import { signPayload, verifyPayloadSignature } from "../../src/signing";

const SECRET = "a-signing-secret-of-32-characters";
const NOW_S = 1_772_490_000;
const body = '{"hello":"world"}';
const verify = (timestamp: string, signature: string) =>
  verifyPayloadSignature({ secrets: { shop: SECRET }, timestamp, signature, body, nowMs: NOW_S * 1000 });

describe("verifyPayloadSignature", () => {
  it("accepts a signature over the timestamp it was sent with", () => {
    expect(verify(String(NOW_S), signPayload(SECRET, NOW_S, body))).toEqual({
      valid: true,
      secretName: "shop",
    });
  });

  it("a leading zero in the header is not the timestamp that was signed", () => {
    const signedOverCanonical = signPayload(SECRET, NOW_S, body); // over "1772490000."
    expect(verify(`0${NOW_S}`, signedOverCanonical)).toEqual({ valid: false, problem: "mismatch" });
    expect(verify(`00${NOW_S}`, signedOverCanonical)).toEqual({ valid: false, problem: "mismatch" });
    // The header exactly as received is what is signed over; parsed, it is still inside the window.
    expect(verify(`0${NOW_S}`, signPayload(SECRET, `0${NOW_S}`, body))).toEqual({
      valid: true,
      secretName: "shop",
    });
  });

  it("refuses a header that is not plain digits, and one outside the window", () => {
    const signature = signPayload(SECRET, NOW_S, body);
    for (const header of [
      `+${NOW_S}`,
      ` ${NOW_S}`,
      `${NOW_S}.0`,
      `${NOW_S}\n`,
      "1.77249e9",
      "0x69a5ea10",
      "１７７２４９００００",
      "",
    ]) {
      expect(verify(header, signature), JSON.stringify(header)).toEqual({
        valid: false,
        problem: "malformed",
      });
    }
    const old = NOW_S - 301;
    expect(verify(String(old), signPayload(SECRET, old, body))).toEqual({ valid: false, problem: "stale" });
  });

  it("a signed submission with a leading-zero timestamp is refused", () => {
    const input = {
      secrets: { shop: SECRET },
      signature: signPayload(SECRET, NOW_S, body),
      body: new TextEncoder().encode(body),
      nowMs: NOW_S * 1000,
    };
    expect(verifySubmissionSignature({ ...input, timestamp: String(NOW_S) }).valid).toBe(true);
    expect(verifySubmissionSignature({ ...input, timestamp: `0${NOW_S}` })).toEqual({
      valid: false,
      reason: "the signature does not match the body with any submission secret",
    });
  });
});
