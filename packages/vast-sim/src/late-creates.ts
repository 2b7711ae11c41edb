/**
 * Creates Vast accepted but had not carried out when it answered (the `late_create` fault):
 * the call got a 5xx, and the instance appears once its due time has passed. The state makes
 * each one the next time anyone looks, stamped at its due time, the way lifecycle transitions
 * are, so what a test sees does not depend on when it looked.
 */
import type { CreateOrder } from "./instance";

export interface PendingCreate {
  dueAtMs: number;
  order: CreateOrder;
}

export class LateCreates {
  private pending: (PendingCreate & { seq: number })[] = [];
  private seq = 0;

  add(dueAtMs: number, order: CreateOrder): void {
    this.pending.push({ dueAtMs, order, seq: this.seq++ });
  }

  /** Removes and returns every create due by `nowMs`, earliest first (ties in call order). */
  takeDue(nowMs: number): PendingCreate[] {
    const due = this.pending.filter((p) => p.dueAtMs <= nowMs);
    if (due.length === 0) return [];
    this.pending = this.pending.filter((p) => p.dueAtMs > nowMs);
    return due
      .sort((a, b) => a.dueAtMs - b.dueAtMs || a.seq - b.seq)
      .map(({ dueAtMs, order }) => ({ dueAtMs, order }));
  }

  clear(): void {
    this.pending = [];
  }
}
