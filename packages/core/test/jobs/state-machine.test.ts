import { describe, expect, it } from "vitest";
import {
  ACTIVE_STATES,
  canTransition,
  IllegalTransitionError,
  type JobEventType,
  JobEventTypeSchema,
  type JobState,
  JobStateSchema,
  nextState,
  TERMINAL_STATES,
} from "../../src/jobs/state-machine";

/** The full table, written out independently of the implementation: [from, event] → to. */
const EXPECTED: Partial<Record<JobState, Partial<Record<JobEventType, JobState>>>> = {
  queued: { provision_started: "provisioning", fail: "failed", cancel: "cancelled" },
  provisioning: { instance_created: "booting", fail: "failed", cancel: "cancelled" },
  booting: { instance_ready: "pushing", attempt_failed: "provisioning", fail: "failed", cancel: "cancelled" },
  pushing: {
    training_started: "training",
    attempt_failed: "provisioning",
    fail: "failed",
    cancel: "cancelled",
  },
  training: {
    training_finished: "collecting",
    attempt_failed: "provisioning",
    fail: "failed",
    cancel: "cancelled",
  },
  collecting: { artifact_collected: "succeeded", fail: "failed", cancel: "cancelled" },
  succeeded: {},
  failed: {},
  cancelled: {},
};

describe("job state machine", () => {
  const cases = JobStateSchema.options.flatMap((state) =>
    JobEventTypeSchema.options.map((event) => [state, event] as const),
  );

  it.each(cases)("%s + %s", (state, event) => {
    const expected = EXPECTED[state]?.[event];
    if (expected) {
      expect(nextState(state, event)).toBe(expected);
      expect(canTransition(state, event)).toBe(true);
    } else {
      expect(canTransition(state, event)).toBe(false);
      expect(() => nextState(state, event)).toThrow(IllegalTransitionError);
      try {
        nextState(state, event);
      } catch (error) {
        expect(error).toMatchObject({ from: state, event });
        expect((error as Error).message).toContain(`'${state}'`);
      }
    }
  });

  it("covers every state and every event (81 cases)", () => {
    expect(cases).toHaveLength(9 * 9);
  });

  it("terminal states take no event; every active state can fail or be cancelled", () => {
    for (const state of TERMINAL_STATES) {
      for (const event of JobEventTypeSchema.options) expect(canTransition(state, event)).toBe(false);
    }
    for (const state of ACTIVE_STATES) {
      expect(nextState(state, "fail")).toBe("failed");
      expect(nextState(state, "cancel")).toBe("cancelled");
    }
  });

  it("the happy path walks queued → succeeded", () => {
    const path: JobEventType[] = [
      "provision_started",
      "instance_created",
      "instance_ready",
      "training_started",
      "training_finished",
      "artifact_collected",
    ];
    let state: JobState = "queued";
    for (const event of path) state = nextState(state, event);
    expect(state).toBe("succeeded");
  });
});
