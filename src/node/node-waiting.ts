// What a RaftNode's callers wait for: time, the next turn of the event loop, an
// entry applied here, a change of leader. Each waiter is woken by the Ready loop
// when what it waits for happened, or gives up at its deadline.
import { StoreError } from '../store/errors.ts';

/** Callers waiting at once for an entry to be applied here, at most (each also gives up at its deadline). */
export const APPLIED_WAITERS_MAX = 65_536;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves on the next turn of the event loop, after the I/O callbacks queued before it. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface AppliedWaiter {
  readonly index: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** For a caller that gives its own reason when a wait for an index runs out: lets the
 * wait's READ_TIMEOUT pass, rethrows anything else. */
export function unlessReadTimeout(error: unknown): void {
  if (!(error instanceof StoreError && error.code === 'READ_TIMEOUT')) throw error;
}

/** Callers waiting until this node has applied a given log index: each until its deadline,
 * at most `appliedWaitersMax` at once (one more is refused at once with NO_LEADER). */
export class AppliedWaiters {
  private readonly waiters = new Set<AppliedWaiter>();

  /** `applied` reads the store's last applied index. */
  constructor(
    private readonly applied: () => number,
    private readonly appliedWaitersMax: number = APPLIED_WAITERS_MAX,
  ) {}

  wait(index: number, deadline: number): Promise<void> {
    if (this.applied() >= index) return Promise.resolve();
    if (this.waiters.size >= this.appliedWaitersMax) {
      return Promise.reject(new StoreError('NO_LEADER', `${this.appliedWaitersMax} callers wait for this node to apply already; retry later`));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: AppliedWaiter = {
        index,
        resolve: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          reject(error);
        },
      };
      // A waiter that gives up leaves the set: nothing piles up for an index never reached.
      const timer = setTimeout(
        () => waiter.reject(new StoreError('READ_TIMEOUT', 'this node did not apply the entry in time')),
        Math.max(0, deadline - Date.now()),
      );
      this.waiters.add(waiter);
    });
  }

  /** Wakes everyone whose index is applied now. */
  wake(): void {
    if (this.waiters.size === 0) return;
    const applied = this.applied();
    for (const waiter of this.waiters) if (waiter.index <= applied) waiter.resolve();
  }

  /** Fails every waiter now (the node stopped or is closing). */
  rejectAll(error: Error): void {
    for (const waiter of this.waiters) waiter.reject(error);
  }

  get size(): number {
    return this.waiters.size;
  }
}

/** Callers waiting for a leader (or another one) to be known. Bounded in time, not in
 * number: each waits 50 ms at most, then its caller looks again (until its own deadline). */
export class LeaderWaiters {
  private readonly waiters = new Set<() => void>();

  /** `closed` tells whether the node is shutting down (then nobody waits). */
  constructor(private readonly closed: () => boolean) {}

  async wait(deadline: number): Promise<void> {
    const remaining = deadline - Date.now();
    if (remaining <= 0 || this.closed()) {
      throw new StoreError('NO_LEADER', 'no leader is available; retry later');
    }
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      // Poll too: a leader can be known without a change event (e.g. this node became a follower of the same leader).
      const timer = setTimeout(wake, Math.min(remaining, 50));
      this.waiters.add(wake);
    });
  }

  wakeAll(): void {
    for (const wake of this.waiters) wake();
  }

  clear(): void {
    this.waiters.clear();
  }
}
