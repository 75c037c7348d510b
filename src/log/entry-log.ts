// The in-memory view of the log shared by MemoryLog, FileLog and recovery: the
// entries after the compaction point, with the rules for appending over a
// conflicting suffix and for compacting to a snapshot. Pure, synchronous.
import type { Entry } from '../raft/types.ts';

export class EntryLog {
  /** Index just before entries[0]: the compaction point (snapshot index), 0 at the start. */
  private prevIndex: number;
  /** Term at prevIndex (the snapshot's term), 0 at the start. */
  private prevTerm: number;
  private list: Entry[] = [];

  constructor(prevIndex = 0, prevTerm = 0) {
    this.prevIndex = prevIndex;
    this.prevTerm = prevTerm;
  }

  firstIndex(): number {
    return this.prevIndex + 1;
  }

  lastIndex(): number {
    return this.prevIndex + this.list.length;
  }

  /** The compaction point: the index the first held entry follows. */
  compactedIndex(): number {
    return this.prevIndex;
  }

  term(index: number): number | undefined {
    if (index === this.prevIndex) return this.prevTerm;
    if (index < this.prevIndex || index > this.lastIndex()) return undefined;
    return this.list[index - this.prevIndex - 1]!.term;
  }

  entries(lo: number, hi: number): Entry[] {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo > hi || lo < this.firstIndex() || hi > this.lastIndex() + 1) {
      throw new RangeError(`entries(${lo}, ${hi}) out of range: the log holds [${this.firstIndex()}, ${this.lastIndex() + 1})`);
    }
    return this.list.slice(lo - this.prevIndex - 1, hi - this.prevIndex - 1);
  }

  all(): Entry[] {
    return this.list.slice();
  }

  /**
   * Appends consecutive entries, dropping the suffix from the first one's index.
   * Entries at or below the compaction point are skipped (they are committed and
   * covered by the snapshot). Returns the entries actually added. Throws a
   * RangeError for non-consecutive input or a gap after lastIndex.
   */
  append(entries: readonly Entry[]): readonly Entry[] {
    if (entries.length === 0) return entries;
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.index !== entries[i - 1]!.index + 1) {
        throw new RangeError(`appended entries are not consecutive: ${entries[i - 1]!.index} then ${entries[i]!.index}`);
      }
    }
    const first = entries[0]!.index;
    if (first > this.lastIndex() + 1) {
      throw new RangeError(`append at index ${first} leaves a gap after lastIndex ${this.lastIndex()}`);
    }
    const skip = Math.max(0, this.prevIndex + 1 - first);
    const added = skip === 0 ? entries : entries.slice(skip);
    if (added.length === 0) return added;
    this.list.length = added[0]!.index - this.prevIndex - 1; // drop a conflicting suffix
    for (const entry of added) this.list.push(entry);
    return added;
  }

  /** Appends one entry (recovery's hot path); same rules as append(). */
  appendOne(entry: Entry): void {
    const index = entry.index;
    if (index === this.prevIndex + this.list.length + 1) {
      this.list.push(entry);
      return;
    }
    this.append([entry]);
  }

  /**
   * Compacts to a snapshot at (index, term). When the log holds that entry with
   * that term the later entries stay; otherwise the whole log is discarded.
   * Returns whether entries were kept.
   */
  compact(index: number, term: number): boolean {
    const keep = index <= this.lastIndex() && this.term(index) === term;
    this.applyCompaction(index, term, keep);
    return keep;
  }

  /** Replays a compaction whose keep/discard decision is already known. */
  applyCompaction(index: number, term: number, keep: boolean): void {
    if (keep && index >= this.prevIndex) {
      this.list.splice(0, Math.min(this.list.length, index - this.prevIndex));
    } else if (keep) {
      return; // already compacted past it
    } else {
      this.list = [];
    }
    this.prevIndex = index;
    this.prevTerm = term;
  }

  /** Restarts an empty log right before `index` (recovery of a log whose older segments were deleted). */
  restartAt(prevIndex: number, prevTerm: number): void {
    this.list = [];
    this.prevIndex = prevIndex;
    this.prevTerm = prevTerm;
  }
}
