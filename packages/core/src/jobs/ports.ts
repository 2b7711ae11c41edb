/**
 * What the job orchestration needs from the outside world, as small ports. `VastAIService`
 * (packages/core/src/vast) satisfies `VastPort` through `vastPortFromService`; the SSH transport
 * supplies the probe, the connector and the pre-flight host check. Tests plug in the simulator-backed service or fakes.
 */
import type { PreflightCheck } from "../preflight";
import type { SshSession, SshTarget } from "../ssh";
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
    /** The container's environment (`-e K=V`); holds secrets (HF_TOKEN): never logged. */
    env?: Record<string, string>;
  }): Promise<{ instanceId: number }>;
  /** `state: "destroyed"` when Vast has no such instance. */
  getInstanceStatus(instanceId: number): Promise<VastInstance>;
  findInstanceByLabel(label: string): Promise<VastInstance | null>;
  /** Every instance on the account, through the paged list call (25 per page); `onPage` is told
   * of each page fetched. */
  listInstances(options?: { onPage?: () => void }): Promise<VastInstance[]>;
  /** Idempotent: an instance that is already gone counts as success (and says so, when it can tell). */
  terminateInstance(instanceId: number): Promise<{ alreadyGone?: boolean } | undefined>;
  /** Stops (GPU no longer billed; the disk still is) or starts an instance. */
  stopInstance(instanceId: number): Promise<void>;
  startInstance(instanceId: number): Promise<void>;
  getInstanceLogs(instanceId: number, tail?: number): Promise<string>;
  /** Authorizes our SSH key on an instance we adopted by label: its create call failed before the
   * key could be attached. Idempotent. */
  authorizeSshKey(instanceId: number): Promise<void>;
}

/** Connects, checks that a command runs, and reports the host key; throws when unreachable. */
export type SshProbe = (target: SshTarget) => Promise<{ hostKeyFingerprint: string }>;

/** Opens a session to an instance with the orchestrator's key (retries and timeouts built in). */
export type SshConnector = (target: SshTarget, options?: { signal?: AbortSignal }) => Promise<SshSession>;

/**
 * Runs the pre-flight host check on a fresh session (`preflightOverSsh`): the outcome when the
 * host answered, a throw when it could not be reached (looked at again on the next check).
 */
export type HostPreflight = PreflightCheck;
