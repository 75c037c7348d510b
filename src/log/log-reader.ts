// What both LogStorage implementations read the same way: the entries since the
// snapshot (held in memory by an EntryLog), the hard state and the newest snapshot.
import type { Entry, HardState, Snapshot, StoredEntries } from '../raft/types.ts';
import type { EntryLog } from './entry-log.ts';

export abstract class LogReader {
  protected abstract readonly log: EntryLog;
  protected abstract hard: HardState;
  protected abstract snap: Snapshot | null;

  firstIndex(): number {
    return this.log.firstIndex();
  }

  lastIndex(): number {
    return this.log.lastIndex();
  }

  term(index: number): number | undefined {
    return this.log.term(index);
  }

  entries(lo: number, hi: number): Entry[] {
    return this.log.entries(lo, hi);
  }

  restartEntries(): readonly Entry[] | StoredEntries {
    return this.log.restartEntries();
  }

  hardState(): HardState {
    return this.hard;
  }

  snapshot(): Snapshot | null {
    return this.snap;
  }
}
