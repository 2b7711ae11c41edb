/**
 * The poller's schedule, locally: a run every `intervalMs` (the deployed one runs every minute),
 * never two at once — a run still going when the next is due makes that one wait its turn, as the
 * deployed poller's own lease would make the second return early.
 */
import type { Logger } from "@vast-rental/core";

export interface PollerTimer {
  /** Resolves after the run in progress, if any. */
  stop(): Promise<void>;
}

export function startPollerTimer(options: {
  intervalMs: number;
  run: () => Promise<unknown>;
  logger: Logger;
}): PollerTimer {
  let running: Promise<void> | null = null;
  const tick = () => {
    if (running) return;
    running = options
      .run()
      .then(
        () => undefined,
        (error: unknown) => options.logger.warn("poller run failed", { error: String(error) }),
      )
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(tick, options.intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
