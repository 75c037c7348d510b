// The retained change log of a node: the change events (RaftEvent records) of the entries it
// applied, oldest first, bounded by count and by size, and the listeners of live changes.
// Change streams resume from it: every change after a token, deletes included, or, when the
// token is older than what is retained, "expired" (HTTP 410 CHANGES_EXPIRED: resync).
//
// Events are derived at apply (change-events.ts), so every node holds the same events for the
// same entries. What a node retains starts where its state machine started: the snapshot it
// recovered or installed (the changes inside a snapshot are not known, only their result), and
// the oldest events leave once the bounds are reached. Memory, not disk: a restarted node
// retains the changes of the log entries after its snapshot, which it applies again at start.
import { assert } from '../assert.ts';
import type { Command, CommandResult } from '../store/commands.ts';
import { StoreError } from '../store/errors.ts';
import type { RaftEvent } from '../store/raft-event.ts';
import { EntryChanges, type AppliedEntry } from './change-events.ts';

/** Events retained at most (the oldest leave first). */
export const CHANGE_LOG_EVENTS_MAX = 100_000;
/** Size retained at most (the oldest leave first): each entry's encoded size, shared by its
 * events, plus CHANGE_EVENT_FIELDS_BYTES per event. */
export const CHANGE_LOG_BYTES_MAX = 32 * 1024 * 1024;

export interface ChangeLogBounds {
  readonly eventsMax: number;
  readonly bytesMax: number;
}

export const DEFAULT_CHANGE_LOG_BOUNDS: ChangeLogBounds = { eventsMax: CHANGE_LOG_EVENTS_MAX, bytesMax: CHANGE_LOG_BYTES_MAX };

/**
 * A place in the stream of changes: after the change at `position` of the entry at log index
 * `sequence`. `position: Infinity` is after every change of that entry (the token `"<n>"`).
 */
export interface ChangeToken {
  readonly sequence: number;
  readonly position: number;
}

/** Before every change (log index 0 holds no entry: every token of it is this place). */
export const CHANGE_TOKEN_START: ChangeToken = { sequence: 0, position: 0 };

const TOKEN_PATTERN = /^(0|[1-9][0-9]{0,15})(?:\.(0|[1-9][0-9]{0,8}))?$/;

/** Parses `<sequence>.<position>` (an event id) or `<sequence>` (after that whole entry); null when malformed. */
export function parseChangeToken(text: string): ChangeToken | null {
  const match = TOKEN_PATTERN.exec(text);
  if (match === null) return null;
  const sequence = Number(match[1]);
  if (!Number.isSafeInteger(sequence)) return null;
  return { sequence, position: match[2] === undefined ? Infinity : Number(match[2]) };
}

export function formatChangeToken(token: ChangeToken): string {
  return token.position === Infinity ? String(token.sequence) : `${token.sequence}.${token.position}`;
}

/** Negative when `a` is before `b`, 0 when they are the same place, positive after. */
export function compareChangeTokens(a: ChangeToken, b: ChangeToken): number {
  if (a.sequence !== b.sequence) return a.sequence - b.sequence;
  if (a.position === b.position) return 0;
  return a.position < b.position ? -1 : 1;
}

export function tokenOf(event: RaftEvent): ChangeToken {
  return { sequence: event.sequence, position: event.position };
}

/** Fields of an event besides its document, in bytes, as counted towards CHANGE_LOG_BYTES_MAX. */
export const CHANGE_EVENT_FIELDS_BYTES = 192;

/**
 * An event with its size and its JSON text. The text is made the first time a stream sends the
 * event, not at apply: applying an entry of a thousand changes must not also serialize a
 * thousand events while the leader's heartbeats wait (test/cluster/heavy-requests.test.ts).
 */
export class ChangeRecord {
  private text: string | undefined;
  constructor(
    readonly event: RaftEvent,
    /** What the record counts towards the size bound (its share of the entry, plus its fields). */
    readonly sizeBytes: number,
  ) {}

  get json(): string {
    this.text ??= JSON.stringify(this.event);
    return this.text;
  }
}

/** The token is older than the retained changes: the caller must read the state again. */
export function changesExpired(after: ChangeToken, floor: ChangeToken): StoreError {
  return new StoreError(
    'CHANGES_EXPIRED',
    `the changes after ${formatChangeToken(after)} are no longer retained (this node has those after ${formatChangeToken(floor)}): read the collection again and watch from now`,
  );
}

/** One retained entry's changes, its size per change, and their records once made. */
class RetainedEntry {
  /** Made the first time a stream reads them or a listener is told (then kept, so the JSON
   * text each record caches is made once). */
  private records: ChangeRecord[] | undefined;

  constructor(
    readonly changes: EntryChanges,
    /** What each change counts towards the size bound (its share of the entry, plus its fields). */
    readonly sizeBytes: number,
  ) {}

  record(position: number): ChangeRecord {
    this.records ??= Array.from({ length: this.changes.count }, (_, p) => new ChangeRecord(this.changes.event(p), this.sizeBytes));
    return this.records[position]!;
  }
}

export class ChangeFeed {
  /** Retained entries from `head` on, oldest first (a queue that compacts itself). Of the entry
   * at `head`, the changes before `headSkip` are no longer retained. */
  private entries: RetainedEntry[] = [];
  private head = 0;
  private headSkip = 0;
  /** Changes retained. */
  private count = 0;
  private bytes = 0;
  /** Every change after this place is retained (when applied). */
  private floorToken: ChangeToken = CHANGE_TOKEN_START;
  private readonly listeners = new Set<(record: ChangeRecord) => void>();
  /** Entries up to this index are applied without retaining their changes (skipReplayedBefore);
   * 0 once an entry's changes were retained or heard. */
  private skipThrough = 0;

  constructor(readonly bounds: ChangeLogBounds = DEFAULT_CHANGE_LOG_BOUNDS) {
    assert(Number.isSafeInteger(bounds.eventsMax) && bounds.eventsMax >= 1, `eventsMax ${bounds.eventsMax} is at least 1`);
    assert(Number.isSafeInteger(bounds.bytesMax) && bounds.bytesMax >= 1, `bytesMax ${bounds.bytesMax} is at least 1`);
  }

  /** The place after which every change is retained. */
  get floor(): ChangeToken {
    return this.floorToken;
  }

  /** The place of the newest retained change (the floor when none is retained). */
  latest(): ChangeToken {
    const newest = this.entries.at(-1);
    return newest !== undefined && this.count > 0 ? { sequence: newest.changes.sequence, position: newest.changes.count - 1 } : this.floorToken;
  }

  get size(): number {
    return this.count;
  }

  get retainedBytes(): number {
    return this.bytes;
  }

  /** The state machine starts over at `index` (recovered or installed snapshot): what came before is unknown. */
  restartAt(index: number): void {
    this.entries = [];
    this.head = 0;
    this.headSkip = 0;
    this.count = 0;
    this.bytes = 0;
    this.floorToken = index === 0 ? CHANGE_TOKEN_START : { sequence: index, position: Infinity };
    this.skipThrough = 0;
  }

  /**
   * A node replaying its recovered log up to `lastIndex`: the changes of the entries before
   * the last `eventsMax` are evicted before the replay ends whenever each of those last entries
   * holds a change (as writes do), so they are not made at all, and the floor passes them as
   * they are applied. Made and then dropped, they were 4 s of a 9.9 s reopen of 1,000,000 entries (the
   * GC promoting events that lived for 100,000 entries). The retained window after the replay
   * may be shorter than building every entry's changes would keep (when entries near the end
   * hold no change): a token below it gets CHANGES_EXPIRED, never a gap. Skipping stops at the
   * first entry whose changes are retained or heard by a listener.
   */
  skipReplayedBefore(lastIndex: number): void {
    assert(this.entries.length === this.head && this.listeners.size === 0, 'skipReplayedBefore on a change log in use');
    this.skipThrough = Math.max(0, lastIndex - this.bounds.eventsMax);
  }

  /**
   * Called by the node for every applied entry: retains its changes and hands them to the
   * listeners. The entry's encoded size stands for the size of its documents (shared equally by
   * its changes), so sizing costs nothing per document. Nothing is made per change unless
   * someone listens: the changes stay in their columns (EntryChanges) until read.
   */
  applied(command: Command, result: CommandResult, entry: AppliedEntry & { readonly data: Uint8Array }): void {
    if (entry.index <= this.skipThrough && this.listeners.size === 0) {
      this.floorToken = { sequence: entry.index, position: Infinity };
      return;
    }
    this.skipThrough = 0;
    const changes = EntryChanges.of(command, result, { index: entry.index, term: entry.term });
    if (changes === null) return;
    const sizeBytes = Math.ceil(entry.data.byteLength / changes.count) + CHANGE_EVENT_FIELDS_BYTES;
    const retained = new RetainedEntry(changes, sizeBytes);
    this.entries.push(retained);
    this.count += changes.count;
    this.bytes += changes.count * sizeBytes;
    this.evict();
    if (this.listeners.size === 0) return;
    // Records made for the listeners only (one per change, shared by them all), not kept with
    // the entry: a stream reading the log later makes its own, so an open stream does not make
    // the columns' saving of memory void.
    for (let position = 0; position < changes.count; position++) {
      const record = new ChangeRecord(changes.event(position), sizeBytes);
      for (const listener of this.listeners) listener(record);
    }
  }

  /**
   * The retained changes after `after`, oldest first; throws CHANGES_EXPIRED when some of them
   * are no longer retained. A token past what this node applied yet gives none (the changes
   * up to it arrive live, and the caller skips them).
   */
  read(after: ChangeToken): ChangeRecord[] {
    if (compareChangeTokens(after, this.floorToken) < 0) throw changesExpired(after, this.floorToken);
    // Binary search for the first entry with a change after the token.
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const changes = this.entries[mid]!.changes;
      if (compareChangeTokens({ sequence: changes.sequence, position: changes.count - 1 }, after) <= 0) lo = mid + 1;
      else hi = mid;
    }
    const out: ChangeRecord[] = [];
    for (let i = lo; i < this.entries.length; i++) {
      const retained = this.entries[i]!;
      const changes = retained.changes;
      let position = i === this.head ? this.headSkip : 0;
      if (changes.sequence === after.sequence) position = Math.max(position, after.position + 1);
      for (; position < changes.count; position++) out.push(retained.record(position));
    }
    return out;
  }

  /**
   * Calls `listener` with every change applied from now on; returns the unsubscribe function.
   * A listener hears an entry's changes once the whole entry is retained and the bounds applied:
   * each change is retained then, unless one entry alone holds more than the bounds (its oldest
   * changes are below the floor already, and a stream resuming from them gets CHANGES_EXPIRED).
   */
  subscribeRecords(listener: (record: ChangeRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  subscribe(listener: (event: RaftEvent) => void): () => void {
    return this.subscribeRecords((record) => listener(record.event));
  }

  private evict(): void {
    // The newest change stays even when it alone is over the size bound. Whole runs of the
    // oldest entry's changes leave at once: as many as leaving one at a time would remove.
    while (this.count > 1 && (this.count > this.bounds.eventsMax || this.bytes > this.bounds.bytesMax)) {
      const oldest = this.entries[this.head]!;
      const left = oldest.changes.count - this.headSkip;
      const overCount = this.count - this.bounds.eventsMax;
      const overBytes = Math.ceil((this.bytes - this.bounds.bytesMax) / oldest.sizeBytes);
      const leaving = Math.min(left, Math.max(overCount, overBytes, 1), this.count - 1);
      this.headSkip += leaving;
      this.count -= leaving;
      this.bytes -= leaving * oldest.sizeBytes;
      this.floorToken = { sequence: oldest.changes.sequence, position: this.headSkip - 1 };
      if (this.headSkip === oldest.changes.count) {
        this.entries[this.head] = undefined as unknown as RetainedEntry;
        this.head++;
        this.headSkip = 0;
      }
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
