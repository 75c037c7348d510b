// What a RaftNode's callers wait for: time, the next turn of the event loop, an
// entry applied here, a change of leader. Each waiter is woken by the Ready loop
// when what it waits for happened, or gives up at its deadline.
import { StoreError } from '../store/errors.ts';

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

/** Callers waiting until this node has applied a given log index. */
export class AppliedWaiters {
  private readonly waiters = new Set<AppliedWaiter>();

  /** `applied` reads the store's last applied index. */
  constructor(private readonly applied: () => number) {}

  wait(index: number, deadline: number): Promise<void> {
    if (this.applied() >= index) return Promise.resolve();
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
        () => waiter.reject(new StoreError('TIMEOUT', 'this node did not apply the entry in time')),
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

/** Callers waiting for a leader (or another one) to be known. */
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
