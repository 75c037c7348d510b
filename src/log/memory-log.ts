// The log kept in memory only: same semantics as FileLog, no I/O. For tests,
// the simulator and `open({ memory: true })`. Writes resolve on a microtask.
import type { Entry, HardState, Snapshot, SnapshotMeta } from '../raft/types.ts';
import { EMPTY_HARD_STATE } from '../raft/types.ts';
import type { LogStorage, RecoveredLog } from './types.ts';
import { EntryLog } from './entry-log.ts';
import { LogClosedError } from './errors.ts';
import { LogReader } from './log-reader.ts';
import { assertSameTermAndVote, assertValidEntry, assertValidHardState } from './record.ts';
import { assertValidSnapshotMeta } from './snapshot-meta.ts';

export function createMemoryLog(): LogStorage {
  return new MemoryLog();
}

export class MemoryLog extends LogReader implements LogStorage {
  readonly recovered: RecoveredLog = Object.freeze({ hardState: EMPTY_HARD_STATE, snapshot: null, entries: [], warnings: [] });
  protected readonly log = new EntryLog();
  protected hard: HardState = EMPTY_HARD_STATE;
  protected snap: Snapshot | null = null;
  private closed = false;

  append(entries: readonly Entry[]): Promise<void> {
    return this.mutate(() => {
      for (const entry of entries) assertValidEntry(entry);
      this.log.append(entries);
    });
  }

  setHardState(state: HardState): Promise<void> {
    return this.mutate(() => {
      assertValidHardState(state);
      this.hard = { term: state.term, vote: state.vote, commit: state.commit };
    });
  }

  setCommitWithNextWrite(state: HardState): Promise<void> {
    return this.mutate(() => {
      assertSameTermAndVote(this.hard, state);
      assertValidHardState(state);
      this.hard = { term: state.term, vote: state.vote, commit: state.commit };
    });
  }

  installSnapshot(meta: SnapshotMeta, data: Uint8Array): Promise<void> {
    return this.mutate(() => {
      assertValidSnapshotMeta(meta);
      const current = this.snap?.meta.index ?? 0;
      if (meta.index <= current) {
        throw new RangeError(`snapshot at index ${meta.index} is not newer than the current one at index ${current}`);
      }
      if (!(data instanceof Uint8Array)) throw new TypeError('snapshot data must be a Uint8Array');
      this.log.compact(meta.index, meta.term);
      this.snap = { meta, data };
    });
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Applies a change at the call (like FileLog's memory state) and resolves on a microtask. */
  private mutate(change: () => void): Promise<void> {
    try {
      if (this.closed) throw new LogClosedError('memory log is closed');
      change();
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return Promise.resolve();
  }
}
