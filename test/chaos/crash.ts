/**
 * Crashes between side effects: the chaos run's function processes wrap their dependencies so that
 * just before or just after a call that changes something (a store write, a Vast create or destroy,
 * an enqueue, an event, a command on the instance), the process may be killed — SIGKILL, sent to
 * itself, so nothing after it runs: no catch, no finally, no lease released, no message deleted. That
 * is a Lambda container dying mid-invocation, not a thrown error. Reads are left alone: a crash
 * around a read is a crash around the write before or after it.
 *
 * The odds are per invocation, not per call: an invocation is doomed with probability `probability`,
 * and then dies at one of the next `within` crash points (drawn uniformly). Per call, the poller —
 * one long invocation making hundreds of writes — would die on nearly every run and hold the
 * reaper's lease most of the time, which says more about the odds than about the code.
 */
import { writeSync } from "node:fs";

/** Where a crash happened: `before store.transition`, `after vast.terminateInstance`, ... */
export type CrashPoint = string;

export interface CrashInjector {
  /** An invocation starts: it may be doomed (if none is already). */
  arm(): void;
  /** A crash point: kills the process when a doomed invocation's countdown reaches it. */
  maybe(point: CrashPoint): void;
}

/** Methods of each dependency that only read. */
const READS = /^(get|list|find|recent|search)/;

export function crashInjector(options: {
  /** Probability that an invocation crashes. */
  probability: number;
  /** The crash comes at one of this many next crash points (default 20). */
  within?: number;
  random: () => number;
  /** No invocation is doomed from this moment on (epoch ms; null: never calm). Read at each arm. */
  calmAt?: () => number | null;
  /** Told synchronously before the process dies (the chaos run appends it to its event log). */
  record: (point: CrashPoint) => void;
}): CrashInjector {
  let countdown: number | null = null;
  return {
    arm() {
      const calmAt = options.calmAt?.() ?? null;
      if (calmAt !== null && Date.now() >= calmAt) return;
      if (countdown !== null || !(options.random() < options.probability)) return;
      countdown = 1 + Math.floor(options.random() * (options.within ?? 20));
    },
    maybe(point) {
      if (countdown === null || --countdown > 0) return;
      options.record(point);
      process.kill(process.pid, "SIGKILL");
      // The signal is delivered on the way back from the kernel; never run another line meanwhile.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    },
  };
}

/** `target` with every side-effecting method wrapped in crash points (bound to `target`). */
export function crashable<T extends object>(
  target: T,
  component: string,
  injector: CrashInjector,
  isWrite: (method: string) => boolean = (method) => !READS.test(method),
): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver) as unknown;
      if (typeof value !== "function" || typeof property !== "string" || !isWrite(property)) {
        return typeof value === "function" ? value.bind(object) : value;
      }
      return (...args: unknown[]) => {
        injector.maybe(`before ${component}.${property}`);
        const result = (value as (...a: unknown[]) => unknown).apply(object, args);
        if (result instanceof Promise) {
          return result.then((resolved) => {
            injector.maybe(`after ${component}.${property}`);
            return resolved;
          });
        }
        injector.maybe(`after ${component}.${property}`);
        return result;
      };
    },
  });
}

/** Appends one line to a file synchronously (it must be on disk before a SIGKILL). */
export function appendLineSync(fd: number, value: unknown): void {
  writeSync(fd, `${JSON.stringify(value)}\n`);
}
