/**
 * How many Vast API calls the simulator served, per endpoint, so tests can hold a client to a
 * call budget. Every call that reached a Vast route counts, whatever it was answered (a refused
 * key, a 429, an injected 5xx), because each one costs the caller against Vast's rate limits;
 * admin (`/_sim/`) and `result_url` (`/_sim-logs/`) requests are not Vast calls and never count.
 */
import type { Endpoint } from "./endpoints";

export interface RequestCounts {
  total: number;
  /** Calls per endpoint name; endpoints never called are absent. */
  byEndpoint: Record<string, number>;
}

export class RequestCounter {
  private counts = new Map<Endpoint, number>();

  count(endpoint: Endpoint): void {
    this.counts.set(endpoint, (this.counts.get(endpoint) ?? 0) + 1);
  }

  snapshot(): RequestCounts {
    const byEndpoint = Object.fromEntries(this.counts);
    return { total: Object.values(byEndpoint).reduce((s, n) => s + n, 0), byEndpoint };
  }

  reset(): void {
    this.counts.clear();
  }
}
