// The in-memory view of the log shared by MemoryLog, FileLog and recovery: the
// entries after the compaction point, with the rules for appending over a
// conflicting suffix and for compacting to a snapshot. Pure, synchronous.
import type { Entry, StoredEntries } from '../raft/types.ts';
import { CompactEntries } from './compact-entries.ts';
import { entryInBuffer } from './record.ts';

export class EntryLog {
  /** Index just before the first held entry: the compaction point (snapshot index), 0 at the start. */
  private prevIndex: number;
  /** Term at prevIndex (the snapshot's term), 0 at the start. */
  private prevTerm: number;
  /** What recovery read, in compact form (null when none is left): it serves the indexes
   * (prevIndex, storedLast]. Once sealed it never changes: cutting or compacting the log
   * only moves these bounds. */
  private stored: CompactEntries | null = null;
  private storedLast: number;
  /** The entries after storedLast: list[i].index === storedLast + 1 + i. */
  private list: Entry[] = [];

  constructor(prevIndex = 0, prevTerm = 0) {
    this.prevIndex = prevIndex;
    this.prevTerm = prevTerm;
    this.storedLast = prevIndex;
  }

  firstIndex(): number {
    return this.prevIndex + 1;
  }

  lastIndex(): number {
    return this.storedLast + this.list.length;
  }

  /** The compaction point: the index the first held entry follows. */
  compactedIndex(): number {
    return this.prevIndex;
  }

  term(index: number): number | undefined {
    if (index === this.prevIndex) return this.prevTerm;
    if (index < this.prevIndex || index > this.lastIndex()) return undefined;
    if (index <= this.storedLast) return this.stored!.term(index);
    return this.list[index - this.storedLast - 1]!.term;
  }

  entries(lo: number, hi: number): Entry[] {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo > hi || lo < this.firstIndex() || hi > this.lastIndex() + 1) {
      throw new RangeError(`entries(${lo}, ${hi}) out of range: the log holds [${this.firstIndex()}, ${this.lastIndex() + 1})`);
    }
    const fromList = this.list.slice(Math.max(0, lo - this.storedLast - 1), Math.max(0, hi - this.storedLast - 1));
    if (lo > this.storedLast) return fromList;
    // Not out.push(...fromList): a spread passes every element as an argument, and a few
    // hundred thousand of them overflow the stack.
    const out: Entry[] = [];
    for (let i = lo; i < hi && i <= this.storedLast; i++) out.push(this.stored!.entry(i));
    for (const entry of fromList) out.push(entry);
    return out;
  }

  all(): Entry[] {
    return this.entries(this.firstIndex(), this.lastIndex() + 1);
  }

  /**
   * What a Raft core restarts from: the entries held, without building an object per
   * entry when they are still those recovery read (the usual case at open). Seals them.
   */
  restartEntries(): readonly Entry[] | StoredEntries {
    if (this.stored === null || this.list.length > 0) return this.all();
    // Only what the window covers: recovery may have read entries that a snapshot marker
    // or a later overwrite left behind, and their segment buffers need not stay in memory.
    this.stored = this.stored.sealedTo(this.prevIndex + 1, this.storedLast);
    return this.stored.window(this.prevIndex + 1, this.storedLast);
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
    this.dropFrom(added[0]!.index); // a conflicting suffix
    for (const entry of added) this.list.push(entry);
    return added;
  }

  /** Appends one entry (recovery's hot path); same rules as append(). */
  appendOne(entry: Entry): void {
    const index = entry.index;
    if (index === this.lastIndex() + 1) {
      this.list.push(entry);
      return;
    }
    this.append([entry]);
  }

  /**
   * Recovery's hot path: appends the entry whose data is bytes [start, start + length) of
   * `buffer` (a segment file read whole) without building an Entry; same rules as append().
   */
  appendStored(index: number, term: number, typeCode: number, buffer: Uint8Array, start: number, length: number): void {
    if (index > this.lastIndex() + 1) {
      throw new RangeError(`append at index ${index} leaves a gap after lastIndex ${this.lastIndex()}`);
    }
    if (index <= this.prevIndex) return; // covered by the snapshot
    this.dropFrom(index);
    if (this.list.length === 0) {
      if (this.stored === null) this.stored = new CompactEntries(index);
      this.stored.truncateAfter(this.storedLast); // recovery may cut the store; nothing else holds it yet
      if (this.stored.lastIndex === index - 1) {
        this.stored.push(index, term, typeCode, buffer, start, length);
        this.storedLast = index;
        return;
      }
    }
    // The store cannot continue here: the entry joins the list.
    this.list.push(entryInBuffer(index, term, typeCode, buffer, start, length));
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
      if (index >= this.storedLast) {
        this.list.splice(0, Math.min(this.list.length, index - this.storedLast));
        this.stored = null;
        this.storedLast = index;
      }
    } else if (keep) {
      return; // already compacted past it
    } else {
      this.clear(index);
    }
    this.prevIndex = index;
    this.prevTerm = term;
  }

  /** Restarts an empty log right before `index` (recovery of a log whose older segments were deleted). */
  restartAt(prevIndex: number, prevTerm: number): void {
    this.clear(prevIndex);
    this.prevIndex = prevIndex;
    this.prevTerm = prevTerm;
  }

  /** Drops the entries from `index` on (index <= lastIndex + 1). */
  private dropFrom(index: number): void {
    if (index <= this.storedLast) {
      this.storedLast = Math.max(index - 1, this.prevIndex);
      this.list = [];
      if (this.storedLast === this.prevIndex) this.stored = null;
    } else {
      this.list.length = index - this.storedLast - 1;
    }
  }

  private clear(storedLast: number): void {
    this.stored = null;
    this.storedLast = storedLast;
    this.list = [];
  }
}
