/**
 * Simulated time. `now()` runs `timeScale` simulated seconds per real second of the injected
 * real clock, plus whatever `advance()` added; `timeScale: 0` freezes time so tests move it only
 * with `advance`, which makes every lifecycle transition exactly reproducible.
 */
import { type Clock, systemClock } from "@vast-rental/core";

export class SimClock {
  private readonly realStart: number;
  private readonly simStart: number;
  private advancedMs = 0;

  constructor(
    readonly timeScale: number,
    private readonly real: Clock = systemClock,
    startMs?: number,
  ) {
    this.realStart = real.now();
    this.simStart = startMs ?? this.realStart;
  }

  /** Simulated epoch milliseconds. */
  now(): number {
    return Math.floor(this.simStart + (this.real.now() - this.realStart) * this.timeScale + this.advancedMs);
  }

  advance(seconds: number): void {
    if (!(seconds >= 0)) throw new Error("advance needs a non-negative number of seconds");
    this.advancedMs += seconds * 1000;
  }

  /** Real milliseconds, for rate limits and latency (which Vast applies in wall-clock time). */
  realNow(): number {
    return this.real.now();
  }

  realSleep(ms: number): Promise<void> {
    return this.real.sleep(ms);
  }
}
