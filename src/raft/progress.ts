// What the leader knows about each follower's log (paper: nextIndex, matchIndex), plus the
// flow control that makes replication fast without flooding (etcd's tracker/progress.go):
//   probe:     one AppendEntries at a time until we find where the logs match;
//   replicate: pipelined AppendEntries, at most maxInflight unacknowledged messages;
//   snapshot:  the follower needs a snapshot; appends pause until it is installed.
//
// Invariants, asserted after every change (TigerBeetle style):
//   0 <= matchIndex < nextIndex (etcd: Match < Next);
//   probe:     nothing in flight, no snapshot;
//   replicate: no snapshot; the in-flight indexes increase and stay below nextIndex;
//   snapshot:  a pinned snapshot (index > 0), nothing in flight, and
//              0 <= acknowledged offset <= sent offset <= its size (all sent: sent = size);
//              an offset asked for below the acknowledged one is none (-1) or in [0, acknowledged);
//   the window holds 0..capacity messages;
//   transitions: probe -> replicate | snapshot, replicate -> probe | snapshot, snapshot -> probe
//   (a follower that installed a snapshot is probed before it is replicated to, as in etcd).
import type { PeerProgress, Snapshot } from './types.ts';
import { assert } from '../assert.ts';

/** A bounded window of in-flight AppendEntries, each remembered by its last entry index. */
export class Inflights {
  private readonly buffer: number[];
  private start = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity >= 1, `maxInflight must be at least 1, got ${capacity}`);
    this.buffer = new Array<number>(capacity).fill(0);
  }

  /** Messages in flight. */
  get count(): number {
    return this.size;
  }

  full(): boolean {
    return this.size === this.capacity;
  }

  /** The last index of the newest message in flight (0 when none). */
  newest(): number {
    return this.size === 0 ? 0 : this.buffer[(this.start + this.size - 1) % this.capacity]!;
  }

  add(lastIndex: number): void {
    assert(!this.full(), 'inflight window overflow');
    if (this.size > 0 && lastIndex <= this.newest()) assert(false, `inflight ${lastIndex} not after the newest in flight ${this.newest()}`);
    this.buffer[(this.start + this.size) % this.capacity] = lastIndex;
    this.size++;
    this.check();
  }

  /** The follower acknowledged everything up to `index`. */
  freeLE(index: number): void {
    while (this.size > 0 && this.buffer[this.start]! <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.size--;
    }
    this.check();
  }

  freeFirstOne(): void {
    if (this.size === 0) return;
    this.start = (this.start + 1) % this.capacity;
    this.size--;
    this.check();
  }

  reset(): void {
    this.start = 0;
    this.size = 0;
  }

  private check(): void {
    if (!(this.size >= 0 && this.size <= this.capacity && this.start >= 0 && this.start < this.capacity)) {
      assert(false, `inflight window out of bounds: ${this.size} of ${this.capacity} from ${this.start}`);
    }
  }
}

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** The state changes a Progress may make (see the top of this file). */
const TRANSITIONS: Readonly<Record<ProgressState, readonly ProgressState[]>> = {
  probe: ['replicate', 'snapshot'],
  replicate: ['probe', 'snapshot'],
  snapshot: ['probe'],
};

export class Progress {
  private match = 0;
  private next: number;
  private current: ProgressState = 'probe';
  /** probe: an AppendEntries is outstanding; wait for its answer (or a heartbeat response). */
  probeSent = false;
  /** snapshot: the snapshot being sent, pinned until the transfer ends (the leader may take
   * newer ones meanwhile), and its index. */
  private sending: Snapshot | null = null;
  /** snapshot: the next byte offset the follower asked for (acknowledged so far). */
  private acked = 0;
  /** snapshot: the offset of the next chunk to send; chunks in [snapshotOffset, snapshotSent)
   * are in flight (a bounded window), and whether the final chunk was sent. */
  private sent = 0;
  private sentAll = false;
  /** snapshot: the offset we last resent from (resend once per acknowledged offset). */
  private rewoundAt = -1;
  /** snapshot: the lowest offset the follower asked for below `acked` since the last
   * acknowledgement or rewind (-1: none). A late copy of an old answer can move `acked` past
   * what the follower holds (it restarted the transfer meanwhile); its genuine requests are
   * then below `acked`, and the stall rewind resends from here instead of from `acked`. */
  private askedBelow = -1;
  /** snapshot: heartbeat responses seen without progress. */
  snapshotStalls = 0;
  /** Send an append even if it carries no entries: a heartbeat response showed the follower
   * behind, and in replicate state an empty append at nextIndex detects lost messages. */
  nudge = false;
  /** Heard from since the last check-quorum round (§6.2, thesis 6.2). */
  recentActive = false;
  /** Tick at which the latest heartbeat round this follower acknowledged was sent (leases). */
  leaseAckTick = -Infinity;
  readonly inflights: Inflights;

  constructor(
    readonly id: number,
    public learner: boolean,
    lastIndex: number,
    maxInflight: number,
  ) {
    this.next = lastIndex + 1;
    this.inflights = new Inflights(maxInflight);
    this.check();
  }

  get matchIndex(): number {
    return this.match;
  }
  get nextIndex(): number {
    return this.next;
  }
  get state(): ProgressState {
    return this.current;
  }
  get sendingSnapshot(): Snapshot | null {
    return this.sending;
  }
  /** snapshot: the index of the snapshot being sent (0 in other states). */
  get pendingSnapshot(): number {
    return this.sending === null ? 0 : this.sending.meta.index;
  }
  get snapshotOffset(): number {
    return this.acked;
  }
  get snapshotSent(): number {
    return this.sent;
  }
  get snapshotSentAll(): boolean {
    return this.sentAll;
  }
  get snapshotRewoundAt(): number {
    return this.rewoundAt;
  }
  /** snapshot: where a stall resends from: the lowest offset the follower asked for below
   * the acknowledged one since the last acknowledgement or rewind, else the acknowledged one. */
  get snapshotResendFrom(): number {
    return this.askedBelow >= 0 ? this.askedBelow : this.acked;
  }

  becomeProbe(): void {
    // After a snapshot, the follower holds at least the snapshot's entries.
    const next = this.current === 'snapshot' ? Math.max(this.match, this.pendingSnapshot) + 1 : this.match + 1;
    this.transition('probe');
    this.next = next;
    this.probeSent = false;
    this.clearSnapshot();
    this.inflights.reset();
    this.check();
  }

  becomeReplicate(): void {
    this.transition('replicate');
    this.next = this.match + 1;
    this.clearSnapshot();
    this.inflights.reset();
    this.check();
  }

  becomeSnapshot(snapshot: Snapshot): void {
    this.transition('snapshot');
    this.clearSnapshot();
    this.sending = snapshot;
    this.inflights.reset();
    this.check();
  }

  private transition(to: ProgressState): void {
    if (!TRANSITIONS[this.current].includes(to)) assert(false, `progress of ${this.id}: no transition from ${this.current} to ${to}`);
    this.current = to;
  }

  private clearSnapshot(): void {
    this.sending = null;
    this.acked = 0;
    this.sent = 0;
    this.sentAll = false;
    this.rewoundAt = -1;
    this.askedBelow = -1;
    this.snapshotStalls = 0;
  }

  /** A successful AppendEntriesResponse: returns true when matchIndex moved forward. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      this.probeSent = false;
      updated = true;
    }
    this.next = Math.max(this.next, index + 1);
    this.check();
    return updated;
  }

  /** A rejected AppendEntries: move nextIndex back to the leader's computed hint. Returns false
   * when the rejection is stale (the hint is at or below what we know the follower holds). */
  maybeDecrTo(next: number): boolean {
    if (next <= this.match) return false;
    if (this.current === 'replicate') {
      this.becomeProbe();
    }
    this.next = Math.max(this.match + 1, next);
    this.probeSent = false;
    this.check();
    return true;
  }

  /** Records an AppendEntries just sent with entries up to `lastIndex` (count may be 0). */
  sentEntries(count: number, lastIndex: number): void {
    if (this.current === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.current === 'probe') {
      this.probeSent = true;
    } else {
      assert(false, `sent entries to ${this.id} in snapshot state`);
    }
    this.check();
  }

  /** snapshot: a chunk ending at `end` went out (`done`: the final one). */
  snapshotChunkSent(end: number, done: boolean): void {
    this.sent = end;
    this.sentAll = done;
    this.check();
  }

  /** snapshot: the follower asked for `offset` next, past what it acknowledged before. */
  snapshotAcked(offset: number): void {
    this.acked = offset;
    if (this.sent < offset) {
      this.sent = offset;
      this.sentAll = false;
    }
    this.askedBelow = -1;
    this.snapshotStalls = 0;
    this.check();
  }

  /** snapshot: the follower asked for `offset`, below what it acknowledged before: a late
   * answer reordered in the network, or the truth after a late one moved `acked` past it. */
  snapshotAskedBelow(offset: number): void {
    assert(offset >= 0 && offset < this.acked, `snapshot offset ${offset} asked is not below ${this.acked}`);
    if (this.askedBelow < 0 || offset < this.askedBelow) this.askedBelow = offset;
    this.check();
  }

  /** snapshot: resend from `offset` (chunks were lost, or the follower restarted). */
  rewindSnapshot(offset: number): void {
    this.acked = offset;
    this.sent = offset;
    this.sentAll = false;
    this.rewoundAt = offset;
    this.askedBelow = -1;
    this.snapshotStalls = 0;
    this.check();
  }

  /** May the leader send AppendEntries now? */
  isPaused(): boolean {
    switch (this.current) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  view(): PeerProgress {
    return {
      id: this.id,
      learner: this.learner,
      matchIndex: this.match,
      nextIndex: this.next,
      state: this.current,
      recentActive: this.recentActive,
    };
  }

  /** The invariants at the top of this file; O(1). */
  private check(): void {
    const { match, next, current, sending, inflights } = this;
    if (!(Number.isSafeInteger(match) && match >= 0 && match < next)) {
      assert(false, `progress of ${this.id}: needs 0 <= matchIndex ${match} < nextIndex ${next}`);
    }
    switch (current) {
      case 'probe':
      case 'replicate':
        if (sending !== null) assert(false, `progress of ${this.id}: ${current} while a snapshot is pinned`);
        if (current === 'probe' && inflights.count !== 0) assert(false, `progress of ${this.id}: probe with ${inflights.count} in flight`);
        if (inflights.count > 0 && inflights.newest() >= next) {
          assert(false, `progress of ${this.id}: in flight up to ${inflights.newest()} at or past nextIndex ${next}`);
        }
        break;
      case 'snapshot': {
        if (sending === null || sending.meta.index <= 0) assert(false, `progress of ${this.id}: snapshot state without a snapshot`);
        if (inflights.count !== 0) assert(false, `progress of ${this.id}: snapshot state with ${inflights.count} in flight`);
        const size = sending.data.byteLength;
        if (!(this.acked >= 0 && this.acked <= this.sent && this.sent <= size && (!this.sentAll || this.sent === size))) {
          assert(false, `progress of ${this.id}: snapshot offsets acked ${this.acked} sent ${this.sent}${this.sentAll ? ' (all)' : ''} of ${size}`);
        }
        if (!(this.askedBelow === -1 || (this.askedBelow >= 0 && this.askedBelow < this.acked))) {
          assert(false, `progress of ${this.id}: snapshot offset asked ${this.askedBelow} not below acked ${this.acked}`);
        }
        break;
      }
    }
  }
}
