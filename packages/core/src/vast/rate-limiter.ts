/**
 * Per-endpoint minimum-interval limiter. Calls to one endpoint take their turn on a promise
 * chain, so concurrent callers are spaced out instead of racing into Vast's 429s.
 */
import type { Clock } from "../clock";
import type { VastEndpoint } from "./endpoints";

export class EndpointRateLimiter {
  private readonly tails = new Map<VastEndpoint, Promise<void>>();
  private readonly lastStart = new Map<VastEndpoint, number>();

  constructor(
    private readonly intervals: Readonly<Record<VastEndpoint, number>>,
    private readonly clock: Clock,
  ) {}

  intervalFor(endpoint: VastEndpoint): number {
    return Math.max(0, this.intervals[endpoint] ?? 0);
  }

  /** Resolves when a call to `endpoint` may start; rejects if `signal` aborts while waiting. */
  async acquire(endpoint: VastEndpoint, signal?: AbortSignal): Promise<void> {
    const interval = this.intervalFor(endpoint);
    if (interval === 0) return;
    const previous = this.tails.get(endpoint) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.tails.set(
      endpoint,
      previous.then(() => mine),
    );
    try {
      await previous;
      signal?.throwIfAborted();
      const last = this.lastStart.get(endpoint);
      const wait = last === undefined ? 0 : last + interval - this.clock.now();
      if (wait > 0) await this.clock.sleep(wait, signal);
      this.lastStart.set(endpoint, this.clock.now());
    } finally {
      release();
    }
  }
}
