/** Public face of the Vast.ai domain: the client, the service, normalization and offer search. */

export type {
  CallOptions,
  CreateInstanceBody,
  DestroyOptions,
  DestroyResult,
  ListInstancesOptions,
  VastAIClientOptions,
} from "./client";
export { DEFAULT_VAST_BASE_URL, MAX_LIST_PAGE_SIZE, VastAIClient } from "./client";
export { countryCodeOf, toCountryCode } from "./countries";
export { DEFAULT_RATE_LIMITS, NO_RATE_LIMITS, type VastEndpoint } from "./endpoints";
export { errorFromResponse, isVastAIError, VastAIError, type VastAIErrorInit } from "./errors";
export { resolveGpuNames, VAST_GPU_NAMES } from "./gpu-catalog";
export type { FetchLike } from "./http";
export { deriveInstanceState, isFatalStatusMessage } from "./instance-state";
export {
  formatInstanceLabel,
  hasRentalLabelPrefix,
  type InstanceLabelParts,
  isRentalLabel,
  parseInstanceLabel,
  VAST_RENTAL_LABEL_PREFIX,
} from "./labels";
export * from "./model";
export { normalizeInstance } from "./normalize-instance";
export { normalizeOffer } from "./normalize-offer";
export { compareOffers, matchesOfferRequest, selectOffers } from "./offer-filter";
export {
  buildOfferQuery,
  queryFromResolved,
  type ResolvedOfferRequest,
  resolveOfferRequest,
  type VastOfferQuery,
} from "./offer-query";
export { REGION_GROUPS, resolveRegion } from "./regions";
export { type RetryOptions, type RetryPolicy, seededRandom } from "./retry";
export {
  DEFAULT_DISK_GB,
  DEFAULT_INSTANCE_IMAGE,
  destroyedInstance,
  type ProvisionedInstance,
  type ProvisionInstanceRequest,
  ProvisionInstanceRequestSchema,
  SSH_RUNTYPE,
  VastAIService,
  type VastAIServiceOptions,
} from "./service";
