/**
 * What the job orchestration needs from the outside world, as small ports. `VastAIService`
 * (packages/core/src/vast) satisfies `VastPort` structurally; the SSH transport supplies the
 * probe. Tests plug in the simulator-backed service or fakes.
 */
import type { SearchOffersRequest, VastInstance, VastOffer } from "../vast/model";

export interface VastPort {
  searchOffers(request: SearchOffersRequest): Promise<VastOffer[]>;
  /** Rents the offer once (never retried); an ambiguous failure must be reconciled by label. */
  provisionInstance(input: {
    offerId: number;
    jobId: string;
    attempt: number;
    label: string;
    image: string;
    diskGb: number;
  }): Promise<{ instanceId: number }>;
  /** `state: "destroyed"` when Vast has no such instance. */
  getInstanceStatus(instanceId: number): Promise<VastInstance>;
  findInstanceByLabel(label: string): Promise<VastInstance | null>;
  /** Idempotent: an instance that is already gone counts as success. */
  terminateInstance(instanceId: number): Promise<unknown>;
  getInstanceLogs(instanceId: number, tail?: number): Promise<string>;
  /** Authorizes our SSH key on an instance we adopted by label: its create call failed before the
   * key could be attached. Idempotent. */
  authorizeSshKey(instanceId: number): Promise<void>;
}

export interface SshProbeTarget {
  host: string;
  port: number;
  /** The pinned fingerprint; a different host key must fail the probe. */
  expectedHostKey?: string;
}

/** Connects, checks that a command runs, and reports the host key; throws when unreachable. */
export type SshProbe = (target: SshProbeTarget) => Promise<{ hostKeyFingerprint: string }>;
