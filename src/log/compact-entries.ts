// The entries recovery reads from the segment files, kept as columns of numbers that
// point into the segment buffers instead of an Entry object and a data view each: about
// 25 bytes per entry instead of about 170, and nothing for the young-generation GC to
// copy. Entry objects are built when read (and die young: they are applied and dropped).
//
// Filled only while recovery runs, which may also cut it (a later record overwrote a
// suffix); sealed afterwards, because the Raft core is then handed windows on it
// (StoredEntries) that must never change.
import { assert } from '../assert.ts';
import type { Entry, EntryType, StoredEntries } from '../raft/types.ts';
import { ENTRY_TYPES, entryInBuffer } from './record.ts';

const INITIAL_SLOTS = 1024;

export class CompactEntries {
  /** Index of slot 0. */
  readonly baseIndex: number;
  private count = 0;
  private sealed = false;
  private terms = new Float64Array(INITIAL_SLOTS);
  /** Byte offset of the entry's data in its buffer. */
  private starts = new Float64Array(INITIAL_SLOTS);
  private lengths = new Uint32Array(INITIAL_SLOTS);
  private typeCodes = new Uint8Array(INITIAL_SLOTS);
  private bufferIds = new Uint32Array(INITIAL_SLOTS);
  private readonly buffers: Uint8Array[] = [];

  constructor(baseIndex: number) {
    this.baseIndex = baseIndex;
  }

  /** How many segment buffers it keeps in memory. */
  get bufferCount(): number {
    return this.buffers.length;
  }

  /** Index of the last entry held (baseIndex - 1 when empty). */
  get lastIndex(): number {
    return this.baseIndex + this.count - 1;
  }

  /** Appends the entry at lastIndex + 1 whose data is bytes [start, start + length) of `buffer`. */
  push(index: number, term: number, typeCode: number, buffer: Uint8Array, start: number, length: number): void {
    assert(!this.sealed, 'CompactEntries: push after seal');
    if (index !== this.baseIndex + this.count) assert(false, `CompactEntries: push of ${index}, expected ${this.baseIndex + this.count}`);
    if (ENTRY_TYPES[typeCode] === undefined) assert(false, `CompactEntries: entry type code ${typeCode}`);
    if (this.count === this.terms.length) this.grow();
    const slot = this.count++;
    // Segments are read one after the other: a new buffer is always the last one seen.
    if (this.buffers.length === 0 || this.buffers[this.buffers.length - 1] !== buffer) this.buffers.push(buffer);
    this.terms[slot] = term;
    this.starts[slot] = start;
    this.lengths[slot] = length;
    this.typeCodes[slot] = typeCode;
    this.bufferIds[slot] = this.buffers.length - 1;
  }

  /** Drops the entries after `lastIndex` (recovery only: a later record overwrote them). */
  truncateAfter(lastIndex: number): void {
    assert(!this.sealed, 'CompactEntries: truncate after seal');
    this.count = Math.max(0, Math.min(this.count, lastIndex - this.baseIndex + 1));
  }

  /** No more changes: windows on it may now be handed out. */
  private seal(): void {
    this.sealed = true;
  }

  /**
   * The entries [firstIndex, lastIndex] sealed: this store when it holds nothing else, else
   * a copy of just those (so that the buffers of the others can be collected).
   */
  sealedTo(firstIndex: number, lastIndex: number): CompactEntries {
    const from = this.slot(firstIndex);
    const to = this.slot(lastIndex);
    // Sealed by an earlier call: it already holds only what that window covered.
    if (this.sealed && from === 0 && to === this.count - 1) return this;
    // Buffer ids never decrease along the slots: count the distinct ones in use.
    let usedBuffers = 1;
    for (let slot = from + 1; slot <= to; slot++) if (this.bufferIds[slot] !== this.bufferIds[slot - 1]) usedBuffers++;
    if (from === 0 && to === this.count - 1 && usedBuffers === this.buffers.length) {
      this.seal();
      return this;
    }
    const copy = new CompactEntries(firstIndex);
    for (let slot = from; slot <= to; slot++) {
      const buffer = this.buffers[this.bufferIds[slot]!]!;
      copy.push(this.baseIndex + slot, this.terms[slot]!, this.typeCodes[slot]!, buffer, this.starts[slot]!, this.lengths[slot]!);
    }
    copy.seal();
    return copy;
  }

  term(index: number): number {
    return this.terms[this.slot(index)]!;
  }

  type(index: number): EntryType {
    return ENTRY_TYPES[this.typeCodes[this.slot(index)]!]!;
  }

  entry(index: number): Entry {
    const slot = this.slot(index);
    return entryInBuffer(
      index,
      this.terms[slot]!,
      this.typeCodes[slot]!,
      this.buffers[this.bufferIds[slot]!]!,
      this.starts[slot]!,
      this.lengths[slot]!,
    );
  }

  /** An immutable window on [firstIndex, lastIndex] of a sealed store. */
  window(firstIndex: number, lastIndex: number): StoredEntries {
    assert(this.sealed, 'CompactEntries: window before seal');
    if (lastIndex >= firstIndex && (firstIndex < this.baseIndex || lastIndex > this.lastIndex)) {
      throw new RangeError(`CompactEntries: window [${firstIndex}, ${lastIndex}] outside [${this.baseIndex}, ${this.lastIndex}]`);
    }
    return new CompactWindow(this, firstIndex, lastIndex);
  }

  private slot(index: number): number {
    const slot = index - this.baseIndex;
    if (!(slot >= 0 && slot < this.count)) throw new RangeError(`CompactEntries: index ${index} not held`);
    return slot;
  }

  private grow(): void {
    const size = this.terms.length * 2;
    this.terms = grown(this.terms, new Float64Array(size));
    this.starts = grown(this.starts, new Float64Array(size));
    this.lengths = grown(this.lengths, new Uint32Array(size));
    this.typeCodes = grown(this.typeCodes, new Uint8Array(size));
    this.bufferIds = grown(this.bufferIds, new Uint32Array(size));
  }
}

function grown<T extends Float64Array | Uint32Array | Uint8Array>(old: T, next: T): T {
  next.set(old);
  return next;
}

/** A window on a sealed CompactEntries: answers only for [firstIndex, lastIndex]. */
class CompactWindow implements StoredEntries {
  constructor(
    private readonly store: CompactEntries,
    readonly firstIndex: number,
    readonly lastIndex: number,
  ) {}

  term(index: number): number {
    return this.store.term(this.check(index));
  }

  type(index: number): EntryType {
    return this.store.type(this.check(index));
  }

  entry(index: number): Entry {
    return this.store.entry(this.check(index));
  }

  private check(index: number): number {
    if (!(index >= this.firstIndex && index <= this.lastIndex)) {
      throw new RangeError(`stored entries: index ${index} outside [${this.firstIndex}, ${this.lastIndex}]`);
    }
    return index;
  }
}

/** The Entry objects of a restart view (built here when it is a compact one). */
export function entriesOf(entries: readonly Entry[] | StoredEntries): readonly Entry[] {
  if (Array.isArray(entries)) return entries as readonly Entry[];
  const view = entries as StoredEntries;
  const out: Entry[] = [];
  for (let i = view.firstIndex; i <= view.lastIndex; i++) out.push(view.entry(i));
  return out;
}
