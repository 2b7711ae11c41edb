/** Public face of webhook signing (our callbacks, signed submissions, Vast's notifications). */
export {
  DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
  SIGNATURE_PREFIX,
  type SignatureVerdict,
  signPayload,
  type VerifySignatureInput,
  verifyPayloadSignature,
} from "./hmac";
