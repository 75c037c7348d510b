// A node's simulated durable storage: the hard state, the latest snapshot, and the log
// entries after it. Only what the driver wrote here survives a crash. Writes are atomic
// per call (the production log fsyncs a batch and truncates a torn tail at open).
//
// A commit index alone is written as production writes it (LogStorage.setCommitWithNextWrite):
// it costs no write of its own but rides along with the next one (entries, or a hard state
// that changes the term or vote), and a crash before that write loses it: the node restarts
// with an older commit index than it acted on.

import { EMPTY_HARD_STATE, type ConfState, type Entry, type HardState, type RaftRestartState, type Snapshot } from '../raft/types.ts';
import { storedEntriesOf } from '../raft/stored-entries.ts';

export class SimDisk {
  hardState: HardState = EMPTY_HARD_STATE;
  snapshot: Snapshot | null = null;
  /** Entries after the snapshot, contiguous: entries[i].index === snapshotIndex + 1 + i. */
  private log: Entry[] = [];

  get entries(): readonly Entry[] {
    return this.log;
  }

  get snapshotIndex(): number {
    return this.snapshot?.meta.index ?? 0;
  }

  get snapshotTerm(): number {
    return this.snapshot?.meta.term ?? 0;
  }

  get lastIndex(): number {
    return this.snapshotIndex + this.log.length;
  }

  /** Term of the entry at `index` (the snapshot's term at its index, 0 at index 0), or
   * undefined when the disk holds no such entry. */
  termAt(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    return this.entryAt(index)?.term;
  }

  entryAt(index: number): Entry | undefined {
    if (index <= this.snapshotIndex) return undefined;
    return this.log[index - this.snapshotIndex - 1];
  }

  /** A commit-only hard state waiting for the next write; null when none. */
  private commitRidingNextWrite: HardState | null = null;

  /** Writes the hard state, durably at once (and with it any commit index still waiting). */
  saveHardState(hs: HardState): void {
    this.commitRidingNextWrite = null;
    this.hardState = hs;
  }

  /** A new commit index, the term and vote unchanged: durable with the next write only. */
  saveCommitWithNextWrite(hs: HardState): void {
    if (hs.term !== this.hardState.term || hs.vote !== this.hardState.vote) {
      throw new Error(`disk: a commit-only write changes the term or vote (${JSON.stringify(this.hardState)} to ${JSON.stringify(hs)})`);
    }
    this.commitRidingNextWrite = hs;
  }

  /** A commit index that waits for the next write (null: none). */
  get commitWaiting(): HardState | null {
    return this.commitRidingNextWrite;
  }

  /** A crash: what no write made durable is gone. */
  loseUnwritten(): void {
    this.commitRidingNextWrite = null;
  }

  /** The next write carries the waiting commit index with it. */
  private writeWaitingCommit(): void {
    if (this.commitRidingNextWrite === null) return;
    this.hardState = this.commitRidingNextWrite;
    this.commitRidingNextWrite = null;
  }

  /** Appends entries, first dropping any suffix from entries[0].index on (a conflicting tail). */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    this.writeWaitingCommit();
    const first = entries[0]!.index;
    if (first <= this.snapshotIndex || first > this.lastIndex + 1) {
      throw new Error(`disk: append at ${first} does not fit (snapshot ${this.snapshotIndex}, last ${this.lastIndex})`);
    }
    this.log.length = first - this.snapshotIndex - 1;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.index !== first + i) throw new Error(`disk: entries not contiguous at ${e.index}`);
      this.log.push(e);
    }
  }

  /** Installs a snapshot received from the leader: entries after it survive only when the
   * log holds the snapshot's last entry (same index and term). */
  installSnapshot(snapshot: Snapshot): void {
    const { index, term } = snapshot.meta;
    if (index <= this.snapshotIndex) return;
    this.writeWaitingCommit();
    const keep = this.termAt(index) === term ? this.log.slice(index - this.snapshotIndex) : [];
    this.snapshot = snapshot;
    this.log = keep;
  }

  /** The application snapshotted its state at snapshot.meta.index (<= applied): compact. */
  compact(snapshot: Snapshot): void {
    const { index, term } = snapshot.meta;
    if (index <= this.snapshotIndex) return;
    const held = this.termAt(index);
    if (held !== undefined && held !== term) {
      throw new Error(`disk: compaction at ${index} term ${term} but the log holds term ${held} there`);
    }
    // Production writes the snapshot's marker through the log's writer: the waiting commit goes with it.
    this.writeWaitingCommit();
    this.log = this.log.slice(index - this.snapshotIndex);
    this.snapshot = snapshot;
  }

  restartState(initialConf: ConfState): RaftRestartState {
    return {
      hardState: this.hardState,
      snapshot: this.snapshot?.meta ?? null,
      // The compact form a node restarting from its files gets (see raft/stored-entries.ts).
      entries: storedEntriesOf(this.log),
      initialConf,
    };
  }
}
