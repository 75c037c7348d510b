// The in-memory Raft log (paper §5.3, §7): entries after the last snapshot, split into a
// stable prefix (durable on this node) and an unstable tail (handed to the driver in
// Ready.entries, durable after advance()). Also holds the commit and applied indexes.
import type { Entry, Snapshot, SnapshotMeta, StoredEntries } from './types.ts';
import { assert } from '../assert.ts';

/** Approximate wire size of an entry, for maxBytesPerMessage. */
export function entrySize(entry: Entry): number {
  return entry.data.byteLength + 24;
}

function isEntryArray(entries: readonly Entry[] | StoredEntries): entries is readonly Entry[] {
  return Array.isArray(entries);
}

export class RaftLog {
  /** Index and term of the last compacted entry (0/0 when none): the snapshot's, or below it
   * when snapshotTaken() keeps snapshotCatchUpEntries entries under the snapshot. */
  snapshotIndex: number;
  snapshotTerm: number;
  /** The entries a restart began with, read from their compact store on demand (null when
   * none are left): they serve the indexes (snapshotIndex, baseLast]. */
  private base: StoredEntries | null;
  private baseLast: number;
  /** The entries after baseLast: tail[i].index === baseLast + 1 + i. */
  private tail: Entry[];
  /** Highest index known to be committed (paper: commitIndex). */
  committed: number;
  /** Highest index handed to the state machine and acknowledged by advance() (lastApplied). */
  applied: number;
  /** Highest index durable on this node; entries above it are the unstable tail. */
  stable: number;
  /** A snapshot received from the leader, not yet persisted and applied by the driver. */
  pendingSnapshot: Snapshot | null = null;

  constructor(snapshot: SnapshotMeta | null, entries: readonly Entry[] | StoredEntries, commit: number) {
    this.snapshotIndex = snapshot?.index ?? 0;
    this.snapshotTerm = snapshot?.term ?? 0;
    if (isEntryArray(entries)) {
      this.base = null;
      this.baseLast = this.snapshotIndex;
      // Restart entries may overlap the snapshot (the log keeps some); keep only those after
      // it. They are in index order (checked below), so the overlap is a prefix: one slice.
      let overlap = 0;
      while (overlap < entries.length && entries[overlap]!.index <= this.snapshotIndex) overlap++;
      this.tail = entries.slice(overlap);
      // Per-entry checks build their message only when they fail (a template string per
      // entry would cost more than the check on a 1,000,000-entry restart).
      for (let i = 0; i < this.tail.length; i++) {
        if (this.tail[i]!.index !== this.snapshotIndex + 1 + i) assert(false, `restart entries not contiguous at ${i}`);
      }
    } else {
      // Stored entries are contiguous by construction; they must reach the snapshot.
      assert(
        entries.lastIndex < entries.firstIndex || entries.firstIndex <= this.snapshotIndex + 1,
        `restart entries start at ${entries.firstIndex}, after snapshot ${this.snapshotIndex} + 1`,
      );
      const last = Math.max(entries.lastIndex, this.snapshotIndex);
      this.base = last > this.snapshotIndex ? entries : null;
      this.baseLast = last;
      this.tail = [];
    }
    this.stable = this.lastIndex();
    this.committed = Math.max(commit, this.snapshotIndex);
    this.applied = this.snapshotIndex;
    assert(this.committed <= this.lastIndex(), `restart commit ${commit} beyond last index ${this.lastIndex()}`);
  }

  firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  lastIndex(): number {
    return this.baseLast + this.tail.length;
  }

  /** Term of the entry at `index`; the snapshot index answers with the snapshot term;
   * undefined when compacted away or past the end. */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIndex()) return undefined;
    if (index <= this.baseLast) return this.base!.term(index);
    return this.tail[index - this.baseLast - 1]!.term;
  }

  lastTerm(): number {
    return this.term(this.lastIndex())!;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Election restriction (§5.4.1): is a log ending at (lastIndex, lastTerm) at least as up-to-date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** The conf entries held, in order (the configuration is rebuilt from them at restart). */
  confEntries(): Entry[] {
    const out: Entry[] = [];
    const last = this.lastIndex();
    for (let i = this.snapshotIndex + 1; i <= last; i++) {
      const isConf = i <= this.baseLast ? this.base!.type(i) === 'conf' : this.tail[i - this.baseLast - 1]!.type === 'conf';
      if (isConf) out.push(this.entry(i));
    }
    return out;
  }

  entry(index: number): Entry {
    if (!(index > this.snapshotIndex && index <= this.lastIndex())) assert(false, `entry ${index} not held`);
    return index <= this.baseLast ? this.base!.entry(index) : this.tail[index - this.baseLast - 1]!;
  }

  /** Index of the first entry in `entries` that is new or conflicts with ours, or 0 when all match. */
  findConflict(entries: readonly Entry[]): number {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /** Appends entries, dropping any suffix they overwrite (never committed ones). */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    assert(first > this.committed, `append at ${first} would overwrite committed entry (commit ${this.committed})`);
    assert(first <= this.lastIndex() + 1, `append at ${first} leaves a gap after ${this.lastIndex()}`);
    if (first <= this.baseLast) {
      // Overwrites stored entries: the store is immutable, so it just serves fewer.
      this.baseLast = first - 1;
      this.tail = [];
      if (this.baseLast <= this.snapshotIndex) this.base = null;
    } else {
      this.tail.length = first - this.baseLast - 1;
    }
    for (const e of entries) {
      if (e.index !== this.lastIndex() + 1) assert(false, `entries not contiguous at ${e.index}`);
      if (e.term < this.lastTerm()) assert(false, `entry ${e.index} term ${e.term} below previous term`);
      this.tail.push(e);
    }
    // Anything overwritten is no longer the durable version.
    this.stable = Math.min(this.stable, first - 1);
  }

  /** Commit never goes backwards, and never past what we hold. */
  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}: log lost or corrupt`);
    this.committed = index;
    return true;
  }

  /** Entries in [lo, hi), at least one when the range is non-empty, then bounded by bytes and count. */
  slice(lo: number, hi: number, maxBytes = Infinity, maxCount = Infinity): Entry[] {
    assert(lo > this.snapshotIndex, `slice from ${lo} is compacted (snapshot ${this.snapshotIndex})`);
    assert(hi <= this.lastIndex() + 1, `slice to ${hi} past last index ${this.lastIndex()}`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi && out.length < maxCount; i++) {
      const e = this.entry(i);
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  unstableEntries(): Entry[] {
    const out: Entry[] = [];
    for (let i = this.stable + 1; i <= this.lastIndex(); i++) out.push(this.entry(i));
    return out;
  }

  /** The driver made entries up to (index, term) durable. Ignored when they were overwritten since. */
  stableTo(index: number, term: number): void {
    if (index > this.stable && this.matchTerm(index, term)) this.stable = index;
  }

  /** Committed entries the state machine may apply now: only durable ones, and none while a
   * received snapshot waits to be applied. `pastCommit` is only for a deliberate bug (RaftBugs
   * applyBeforeCommit): entries beyond the commit index. */
  nextCommittedEntries(maxCount: number, pastCommit = 0): Entry[] {
    if (this.pendingSnapshot !== null) return [];
    const hi = Math.min(this.committed + pastCommit, this.stable);
    if (hi <= this.applied) return [];
    return this.slice(this.applied + 1, hi + 1, Infinity, maxCount);
  }

  appliedTo(index: number): void {
    assert(index >= this.applied, `applied goes backwards: ${index} < ${this.applied}`);
    assert(index <= this.committed, `applied ${index} beyond commit ${this.committed}`);
    this.applied = index;
  }

  /** Replaces the whole log with a snapshot received from the leader (§7). */
  restore(snapshot: Snapshot): void {
    const { index, term } = snapshot.meta;
    assert(index > this.committed, `restore of snapshot ${index} at or below commit ${this.committed}`);
    this.base = null;
    this.baseLast = index;
    this.tail = [];
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    this.committed = index;
    this.stable = index;
    this.pendingSnapshot = snapshot;
  }

  /** Only for the deliberate bug snapshotDiscardsNewerEntries (RaftBugs): drops the entries after
   * `index` (none committed) as if they had never been received. */
  discardAfter(index: number): void {
    if (index >= this.lastIndex()) return;
    assert(index >= this.committed, `discard after ${index} would drop committed entries (commit ${this.committed})`);
    if (index <= this.baseLast) {
      this.baseLast = index;
      this.tail = [];
      if (this.baseLast <= this.snapshotIndex) this.base = null;
    } else {
      this.tail.length = index - this.baseLast;
    }
    this.stable = Math.min(this.stable, index);
  }

  /** Drops entries up to `index` (a snapshot covers them). */
  compact(index: number): void {
    if (index <= this.snapshotIndex) return;
    assert(index <= this.applied, `compact ${index} beyond applied ${this.applied}`);
    const term = this.term(index)!;
    if (index >= this.baseLast) {
      this.tail = this.tail.slice(index - this.baseLast);
      this.base = null;
      this.baseLast = index;
    }
    this.snapshotIndex = index;
    this.snapshotTerm = term;
  }

  /** First index of the run of `term` that contains `index` (follower's conflictIndex hint, thesis 5.3). */
  firstIndexOfTerm(term: number, index: number): number {
    assert(this.term(index) === term, `entry ${index} is not of term ${term}`);
    // Smallest i in [firstIndex, index] with term(i) >= term; terms never decrease along the log.
    let lo = this.firstIndex();
    let hi = index;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.term(mid)! >= term) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Last index whose entry has `term`, or 0 when the log holds no such entry (leader side of
   * fast backtracking). Terms never decrease along the log, so binary search works. */
  lastIndexOfTerm(term: number): number {
    let lo = this.snapshotIndex;
    let hi = this.lastIndex();
    if (this.term(lo)! > term) return 0;
    // Find the largest i in [lo, hi] with term(i) <= term.
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (this.term(mid)! <= term) lo = mid;
      else hi = mid - 1;
    }
    return this.term(lo) === term && lo > 0 ? lo : 0;
  }
}
