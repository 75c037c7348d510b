// Long request work (a read's scan, sort, projection and serialization; a large body's
// parse) runs in slices of at most READ_SLICE_MS, and the slices of all requests take
// turns: one slice per event-loop iteration, in arrival order. Between two slices the loop
// runs its timers and I/O, so the Raft ticks, heartbeats and peer messages of this node are
// never held back by more than one slice (issue #11: a 1,024-branch `$or` over 10,000
// documents held the loop 1.3 s in one piece and the leader lost office).
//
// Why one slice per iteration rather than a setImmediate per slice: immediates queued in
// the same iteration all run back to back in its check phase, so ten requests that each
// yield with their own setImmediate would still hold the loop for ten slices in a row.
import { StoreError } from '../store/errors.ts';
import type { Slicer } from '../store/sort.ts';

/** Time one slice of request work may take before it waits for its next turn. */
export const READ_SLICE_MS = 5;
/** Slices waiting for a turn, at most: beyond, a request is refused before it starts
 * (each waiting slice belongs to one request in flight, which the server bounds already;
 * this bounds the queue itself). */
export const TURNS_WAITING_MAX = 10_000;

/** Units of work between two looks at the clock start at 1 and adapt so that a look comes
 * about every READ_SLICE_MS / 16: a look costs ~40 ns, a cheap unit less, a wide `$or` 100 µs. */
const UNITS_PER_LOOK_MAX = 4096;
const LOOKS_PER_SLICE = 16;

class TurnQueue {
  private readonly waiting: Array<() => void> = [];
  private scheduled = false;

  get size(): number {
    return this.waiting.length;
  }

  /** Resolves at the caller's next turn (a later event-loop iteration than this one). */
  next(): Promise<void> {
    if (this.waiting.length >= TURNS_WAITING_MAX) {
      return Promise.reject(new StoreError('TOO_MANY_REQUESTS', `more than ${TURNS_WAITING_MAX} requests wait for a turn on this node; retry later`));
    }
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // From the poll phase, an immediate runs in this iteration's check phase, before any
    // timer: hop once more so that even the first turn comes after the loop's timers and I/O.
    setImmediate(() => setImmediate(this.grant));
  }

  /** Runs in the check phase: wakes one waiter (its slice runs in the microtasks right after
   * this callback) and asks for the next grant, which Node runs in the next iteration (the
   * waiter woken now usually asks for its next turn during its slice). */
  private readonly grant = (): void => {
    const resume = this.waiting.shift();
    if (resume === undefined) {
      this.scheduled = false;
      return;
    }
    setImmediate(this.grant);
    resume();
  };
}

/** One per process: every request's slices share the loop. */
export const turns = new TurnQueue();

/**
 * The slicer of one request: due() after READ_SLICE_MS of work since the slice began,
 * next() waits for the request's next turn and starts a new slice.
 */
export class RequestSlicer implements Slicer {
  private sliceStartedAt: number;
  private lastLookAt: number;
  private unitsPerLook = 1;
  private unitsLeft = 1;

  constructor(private readonly sliceMs: number = READ_SLICE_MS) {
    this.sliceStartedAt = performance.now();
    this.lastLookAt = this.sliceStartedAt;
  }

  /** performance.now() time at which the current slice is spent. */
  get deadline(): number {
    return this.sliceStartedAt + this.sliceMs;
  }

  due(): boolean {
    if (--this.unitsLeft > 0) return false;
    const now = performance.now();
    const sinceLook = now - this.lastLookAt;
    this.lastLookAt = now;
    const target = this.sliceMs / LOOKS_PER_SLICE;
    if (sinceLook < target / 2 && this.unitsPerLook < UNITS_PER_LOOK_MAX) this.unitsPerLook *= 2;
    else if (sinceLook > target * 2 && this.unitsPerLook > 1) this.unitsPerLook = Math.max(1, this.unitsPerLook >> 1);
    this.unitsLeft = this.unitsPerLook;
    return now - this.sliceStartedAt >= this.sliceMs;
  }

  /** The units of work that follow cost differently from those before (e.g. a read's cheap
   * per-document tests, then a validation per document): look at the clock at the next unit
   * and learn the pace again, so that a slice never overruns by the old pace's units. */
  repace(): void {
    this.unitsPerLook = 1;
    this.unitsLeft = 1;
  }

  /** Waits for this request's next turn; the slice starts then. */
  async next(): Promise<void> {
    await turns.next();
    this.sliceStartedAt = performance.now();
    this.lastLookAt = this.sliceStartedAt;
  }
}
