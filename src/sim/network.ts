// A simulated network on a virtual clock. Each message gets a random delay and may be
// dropped, duplicated or held back long enough to be reordered; directed links can be
// cut to build partitions, including asymmetric ones (A hears B, B does not hear A).
// Everything is driven by the caller's clock and a seeded Prng: no timers.

import type { Prng } from './prng.ts';

export interface LinkFaults {
  /** Probability that a message is lost. */
  readonly dropRate: number;
  /** Probability that a message is delivered twice (each copy with its own delay). */
  readonly duplicateRate: number;
  /** Ordinary delivery delay range, in virtual ms (inclusive). */
  readonly minDelay: number;
  readonly maxDelay: number;
  /** Probability that a message is held back by up to `longDelay` ms (reorders it). */
  readonly reorderRate: number;
  readonly longDelay: number;
  /** Probability that a message also gets a very late copy, `staleDelay` ms later (a stale
   * AppendEntries or vote arriving after the cluster moved on); default 0. */
  readonly staleRate?: number;
  readonly staleDelay?: number;
}

export const RELIABLE_LINKS: LinkFaults = Object.freeze({
  dropRate: 0,
  duplicateRate: 0,
  minDelay: 1,
  maxDelay: 3,
  reorderRate: 0,
  longDelay: 0,
});

export interface Addressed {
  readonly from: number;
  readonly to: number;
}

interface InFlight<M> {
  readonly deliverAt: number;
  readonly seq: number;
  readonly message: M;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  /** Lost to a cut link, at send or at delivery time. */
  blocked: number;
  /** Lost because the in-flight queue was full. */
  overflow: number;
}

/** What happened to one send, for the trace. */
export type SendOutcome =
  | { readonly kind: 'dropped' }
  | { readonly kind: 'blocked' }
  | { readonly kind: 'overflow' }
  | { readonly kind: 'queued'; readonly deliverAt: readonly number[] };

/** Binary min-heap ordered by (deliverAt, seq): seq breaks ties so order is deterministic. */
class DeliveryQueue<M> {
  private readonly heap: InFlight<M>[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): InFlight<M> | undefined {
    return this.heap[0];
  }

  push(item: InFlight<M>): void {
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  pop(): InFlight<M> | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let smallest = i;
        if (l < heap.length && before(heap[l]!, heap[smallest]!)) smallest = l;
        if (r < heap.length && before(heap[r]!, heap[smallest]!)) smallest = r;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }

  clear(): void {
    this.heap.length = 0;
  }
}

function before<M>(x: InFlight<M>, y: InFlight<M>): boolean {
  return x.deliverAt < y.deliverAt || (x.deliverAt === y.deliverAt && x.seq < y.seq);
}

export class SimNetwork<M extends Addressed> {
  private faults: LinkFaults;
  private readonly queue = new DeliveryQueue<M>();
  /** Cut directed links, as "from>to". */
  private readonly cut = new Set<string>();
  private seq = 0;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, blocked: 0, overflow: 0 };

  constructor(
    private readonly rng: Prng,
    faults: LinkFaults = RELIABLE_LINKS,
    /** Bound on messages in flight; beyond it sends are lost (a full socket buffer). */
    private readonly maxInFlight = 50_000,
  ) {
    validateFaults(faults);
    this.faults = faults;
  }

  get linkFaults(): LinkFaults {
    return this.faults;
  }

  setFaults(faults: LinkFaults): void {
    validateFaults(faults);
    this.faults = faults;
  }

  get inFlight(): number {
    return this.queue.size;
  }

  /** True when messages from `from` currently reach `to`. */
  canReach(from: number, to: number): boolean {
    return !this.cut.has(`${from}>${to}`);
  }

  /** Cuts the link from -> to only (asymmetric partition). */
  blockOneWay(from: number, to: number): void {
    this.cut.add(`${from}>${to}`);
  }

  blockBothWays(a: number, b: number): void {
    this.blockOneWay(a, b);
    this.blockOneWay(b, a);
  }

  /** Cuts every link between nodes of different groups. Nodes in no group keep their links. */
  partition(groups: readonly (readonly number[])[]): void {
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i === j) continue;
        for (const a of groups[i]!) for (const b of groups[j]!) this.blockOneWay(a, b);
      }
    }
  }

  /** Cuts `node` off from every node in `others`, both directions. */
  isolate(node: number, others: readonly number[]): void {
    for (const other of others) if (other !== node) this.blockBothWays(node, other);
  }

  /** Restores every link. Messages already lost stay lost. */
  heal(): void {
    this.cut.clear();
  }

  /** The cut links, sorted, for the trace. */
  describeCuts(): string {
    return [...this.cut].sort().join(' ');
  }

  send(message: M, now: number): SendOutcome {
    this.stats.sent++;
    if (!this.canReach(message.from, message.to)) {
      this.stats.blocked++;
      return { kind: 'blocked' };
    }
    if (this.rng.chance(this.faults.dropRate)) {
      this.stats.dropped++;
      return { kind: 'dropped' };
    }
    const stale = this.faults.staleRate ?? 0;
    if (stale > 0 && this.rng.chance(stale) && this.queue.size < this.maxInFlight) {
      // The late copy: delivered long after, unless its link is cut by then.
      this.stats.duplicated++;
      this.queue.push({ deliverAt: now + this.delay() + this.rng.int(1, this.faults.staleDelay ?? 0), seq: this.seq++, message });
    }
    const copies = this.rng.chance(this.faults.duplicateRate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    const times: number[] = [];
    for (let c = 0; c < copies; c++) {
      if (this.queue.size >= this.maxInFlight) {
        this.stats.overflow++;
        return times.length === 0 ? { kind: 'overflow' } : { kind: 'queued', deliverAt: times };
      }
      const deliverAt = now + this.delay();
      this.queue.push({ deliverAt, seq: this.seq++, message });
      times.push(deliverAt);
    }
    return { kind: 'queued', deliverAt: times };
  }

  /** Virtual time of the next delivery, or null when nothing is in flight. */
  nextDeliveryTime(): number | null {
    return this.queue.peek()?.deliverAt ?? null;
  }

  /** Removes and returns the next message due at or before `now` whose link is still up;
   * messages whose link was cut while in flight are lost. Null when nothing is due. */
  takeDue(now: number): M | null {
    for (;;) {
      const head = this.queue.peek();
      if (head === undefined || head.deliverAt > now) return null;
      this.queue.pop();
      if (!this.canReach(head.message.from, head.message.to)) {
        this.stats.blocked++;
        continue;
      }
      this.stats.delivered++;
      return head.message;
    }
  }

  /** Loses everything in flight (used by tests and by a total network reset). */
  dropAll(): void {
    this.stats.dropped += this.queue.size;
    this.queue.clear();
  }

  private delay(): number {
    const f = this.faults;
    let d = this.rng.int(f.minDelay, f.maxDelay);
    if (f.longDelay > 0 && this.rng.chance(f.reorderRate)) d += this.rng.int(1, f.longDelay);
    return d;
  }
}

function validateFaults(f: LinkFaults): void {
  const rate = (name: string, p: number): void => {
    if (!(p >= 0 && p <= 1)) throw new Error(`LinkFaults.${name} must be in [0, 1], got ${p}`);
  };
  rate('dropRate', f.dropRate);
  rate('duplicateRate', f.duplicateRate);
  rate('reorderRate', f.reorderRate);
  if (!Number.isInteger(f.minDelay) || f.minDelay < 0 || !Number.isInteger(f.maxDelay) || f.maxDelay < f.minDelay) {
    throw new Error(`LinkFaults: bad delay range [${f.minDelay}, ${f.maxDelay}]`);
  }
  if (!Number.isInteger(f.longDelay) || f.longDelay < 0) throw new Error(`LinkFaults.longDelay: bad value ${f.longDelay}`);
  rate('staleRate', f.staleRate ?? 0);
  const staleDelay = f.staleDelay ?? 0;
  if (!Number.isInteger(staleDelay) || staleDelay < 0 || ((f.staleRate ?? 0) > 0 && staleDelay < 1)) {
    throw new Error(`LinkFaults.staleDelay: bad value ${staleDelay}`);
  }
}
