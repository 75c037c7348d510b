// What the leader knows about each follower's log (paper: nextIndex, matchIndex), plus the
// flow control that makes replication fast without flooding (etcd's tracker/progress.go):
//   probe:     one AppendEntries at a time until we find where the logs match;
//   replicate: pipelined AppendEntries, at most maxInflight unacknowledged messages;
//   snapshot:  the follower needs a snapshot; appends pause until it is installed.
import type { PeerProgress, Snapshot } from './types.ts';
import { assert } from '../assert.ts';

/** A bounded window of in-flight AppendEntries, each remembered by its last entry index. */
export class Inflights {
  private readonly buffer: number[];
  private start = 0;
  count = 0;

  constructor(readonly capacity: number) {
    assert(capacity >= 1, 'maxInflight must be at least 1');
    this.buffer = new Array<number>(capacity).fill(0);
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  add(lastIndex: number): void {
    assert(!this.full(), 'inflight window overflow');
    this.buffer[(this.start + this.count) % this.capacity] = lastIndex;
    this.count++;
  }

  /** The follower acknowledged everything up to `index`. */
  freeLE(index: number): void {
    while (this.count > 0 && this.buffer[this.start]! <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
  }

  freeFirstOne(): void {
    if (this.count === 0) return;
    this.start = (this.start + 1) % this.capacity;
    this.count--;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  matchIndex = 0;
  nextIndex: number;
  state: ProgressState = 'probe';
  /** probe: an AppendEntries is outstanding; wait for its answer (or a heartbeat response). */
  probeSent = false;
  /** snapshot: the snapshot being sent, pinned until the transfer ends (the leader may take
   * newer ones meanwhile), and its index. */
  sendingSnapshot: Snapshot | null = null;
  pendingSnapshot = 0;
  /** snapshot: the next byte offset the follower asked for (acknowledged so far). */
  snapshotOffset = 0;
  /** snapshot: the offset of the next chunk to send; chunks in [snapshotOffset, snapshotSent)
   * are in flight (a bounded window), and whether the final chunk was sent. */
  snapshotSent = 0;
  snapshotSentAll = false;
  /** snapshot: the offset we last resent from (resend once per acknowledged offset), and
   * heartbeat responses seen without progress. */
  snapshotRewoundAt = -1;
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
    this.nextIndex = lastIndex + 1;
    this.inflights = new Inflights(maxInflight);
  }

  becomeProbe(): void {
    // After a snapshot, the follower holds at least the snapshot's entries.
    this.nextIndex = this.state === 'snapshot' ? Math.max(this.matchIndex, this.pendingSnapshot) + 1 : this.matchIndex + 1;
    this.state = 'probe';
    this.probeSent = false;
    this.clearSnapshot();
    this.inflights.reset();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.nextIndex = this.matchIndex + 1;
    this.clearSnapshot();
    this.inflights.reset();
  }

  becomeSnapshot(snapshot: Snapshot): void {
    this.state = 'snapshot';
    this.clearSnapshot();
    this.sendingSnapshot = snapshot;
    this.pendingSnapshot = snapshot.meta.index;
    this.inflights.reset();
  }

  private clearSnapshot(): void {
    this.sendingSnapshot = null;
    this.pendingSnapshot = 0;
    this.snapshotOffset = 0;
    this.snapshotSent = 0;
    this.snapshotSentAll = false;
    this.snapshotRewoundAt = -1;
    this.snapshotStalls = 0;
  }

  /** A successful AppendEntriesResponse: returns true when matchIndex moved forward. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.matchIndex) {
      this.matchIndex = index;
      this.probeSent = false;
      updated = true;
    }
    this.nextIndex = Math.max(this.nextIndex, index + 1);
    return updated;
  }

  /** A rejected AppendEntries: move nextIndex back to the leader's computed hint. Returns false
   * when the rejection is stale (the hint is at or below what we know the follower holds). */
  maybeDecrTo(next: number): boolean {
    if (next <= this.matchIndex) return false;
    if (this.state === 'replicate') {
      this.becomeProbe();
    }
    this.nextIndex = Math.max(this.matchIndex + 1, next);
    this.probeSent = false;
    return true;
  }

  /** Records an AppendEntries just sent with entries up to `lastIndex` (count may be 0). */
  sentEntries(count: number, lastIndex: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.nextIndex = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    } else {
      assert(false, `sent entries to ${this.id} in snapshot state`);
    }
  }

  /** May the leader send AppendEntries now? */
  isPaused(): boolean {
    switch (this.state) {
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
      matchIndex: this.matchIndex,
      nextIndex: this.nextIndex,
      state: this.state,
      recentActive: this.recentActive,
    };
  }
}
