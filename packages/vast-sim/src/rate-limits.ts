/**
 * Vast's rate limits: a minimum interval between calls per endpoint per identity (key + IP),
 * with the thresholds from Vast's spec (create 4.5 s, destroy 3 s, show 2 s, v1 list 1 s,
 * start/stop/label 1 s) and search at 10 per minute. Measured in real (wall-clock) time, as
 * Vast does. Off by default; a 429 carries no `Retry-After`, as on Vast.
 */
import type { Endpoint } from "./endpoints";

export const VAST_MIN_INTERVAL_SECONDS: Partial<Record<Endpoint, number>> = {
  create: 4.5,
  destroy: 3.0,
  show: 2.0,
  list: 1.0,
  manage: 1.0,
};
const SEARCH_PER_MINUTE = 10;

export type RateLimitStyle = "text" | "detail" | "json";

export type RateLimitConfig =
  | boolean
  | {
      minIntervalSeconds?: Partial<Record<Endpoint, number>>;
      searchPerMinute?: number;
      /** Body of the 429: Vast's plain text (default), `{"detail":…}` or `{error:"rate_limit_exceeded"}`. */
      style?: RateLimitStyle;
    };

export class RateLimiter {
  private readonly last = new Map<string, number>();
  private readonly windows = new Map<string, number[]>();
  private readonly intervals: Partial<Record<Endpoint, number>>;
  private readonly searchPerMinute: number;
  readonly style: RateLimitStyle;

  constructor(
    private readonly enabled: boolean,
    config: Exclude<RateLimitConfig, boolean> = {},
  ) {
    this.intervals = { ...VAST_MIN_INTERVAL_SECONDS, ...config.minIntervalSeconds };
    this.searchPerMinute = config.searchPerMinute ?? SEARCH_PER_MINUTE;
    this.style = config.style ?? "text";
  }

  static from(config: RateLimitConfig | undefined): RateLimiter {
    if (config === undefined || config === false) return new RateLimiter(false);
    return new RateLimiter(true, config === true ? {} : config);
  }

  /** Returns the threshold text when the call is too frequent, else null (and records the call). */
  check(endpoint: Endpoint, identity: string, realNowMs: number): string | null {
    if (!this.enabled) return null;
    const key = `${endpoint}|${identity}`;
    if (endpoint === "search") {
      const recent = (this.windows.get(key) ?? []).filter((t) => realNowMs - t < 60_000);
      if (recent.length >= this.searchPerMinute) {
        this.windows.set(key, recent);
        return `${this.searchPerMinute}/minute`;
      }
      recent.push(realNowMs);
      this.windows.set(key, recent);
      return null;
    }
    const interval = this.intervals[endpoint];
    if (interval === undefined) return null;
    const last = this.last.get(key);
    if (last !== undefined && realNowMs - last < interval * 1000) return String(interval);
    this.last.set(key, realNowMs);
    return null;
  }

  reset(): void {
    this.last.clear();
    this.windows.clear();
  }
}
