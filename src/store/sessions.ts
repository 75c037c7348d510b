// Client sessions (Raft thesis §6.3): the state machine applies a keyed write at most once.
// A write may carry an idempotency tag (a key chosen by its client, `<clientId>.<seq>` for
// the client library, and a digest of the request); the table keeps, per key, the result
// of the first entry that carried it, and a later entry with the same key applies nothing
// and answers that result (or IDEMPOTENCY_KEY_REUSED when its digest differs).
//
// The table is replicated state: it changes only in Store.apply, in log order, and it is
// in snapshots. Records expire by LOG time (the leader's timestamp carried in each entry,
// made non-decreasing here), never by a node's clock, so every node drops the same records
// at the same index. Pure: no clock, no I/O.

import { assert } from '../assert.ts';
import { ClientRecords } from './client-records.ts';
import type { CommandResult } from './commands.ts';

/** How long a record is kept after the entry that made it (log time): the promise. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
/** Records kept at most; past it, the oldest (in log order) go first. */
export const IDEMPOTENCY_RECORDS_MAX = 100_000;
/** Bytes of records kept at most, each counted as its result's JSON length, plus its key
 * (with the user), its digest and IDEMPOTENCY_RECORD_OVERHEAD_BYTES (the newest record is
 * always kept). */
export const IDEMPOTENCY_RESULT_BYTES_MAX = 64 * 1024 * 1024;
/** What a record costs besides its strings and result JSON: the record object, its map
 * entry and queue slot, the result's own objects (measured: ~395 bytes of heap per record of
 * a 24-character key, a 64-character digest and a 42-character result; docs/http-api.md). */
export const IDEMPOTENCY_RECORD_OVERHEAD_BYTES = 300;
/** The log clock moves forward by at most this much per entry (log time): one entry stamped
 * far in the future by a leader whose clock is wrong cannot expire the whole table, and the
 * leaders after it (whose stamps never go behind the log clock) stamp at most this far ahead.
 * After an idle period the clock catches up with real time at this much per entry. */
export const LOG_CLOCK_STEP_MS_MAX = 60_000;
/** Client watermarks kept at most (clientId → highest sequence number whose record left the
 * table); past it, the least recently raised go first. */
export const IDEMPOTENCY_WATERMARKS_MAX = 100_000;
/** How long a client watermark is kept after it was last raised (log time): longer than the
 * records' window, so a retry that outlives its record is still told so. */
export const IDEMPOTENCY_WATERMARK_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
/** The client library's keys (src/client/idempotency-keys.ts): a client id of 16 random bytes
 * in base64url (22 characters), a dot, and that client's sequence number (from 1, counting
 * its writes in the order it makes them). Only keys of this form get a watermark. */
const CLIENT_KEY = /^([A-Za-z0-9_-]{22})\.([1-9][0-9]{0,15})$/;
/** Dropped records left in the queue before acknowledge rebuilds it (and at least as many
 * as the records held): the rebuild is paid for by the drops before it. */
const QUEUE_DROPPED_COMPACT_MIN = 1024;
/** The HTTP contract's key: 1 to 128 of these characters. */
export const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;
export const IDEMPOTENCY_DIGEST_CHARS_MAX = 128;
export const IDEMPOTENCY_USER_CHARS_MAX = 256;

/** What a keyed write carries in its log entry. */
export interface IdempotencyTag {
  /** The client's key (IDEMPOTENCY_KEY). */
  readonly key: string;
  /** A digest of the request (the server: SHA-256 of method, route, ids and body): the same
   * key with another digest is a different request reusing the key. */
  readonly digest: string;
  /** With authentication on, the user who asked: keys are scoped per user. */
  readonly user?: string;
  /** With a client-library key (`<clientId>.<seq>`), below its `seq`: that client has every
   * answer it will wait for through this sequence number (the Raft thesis §6.3 "lowest
   * sequence number without a response", less one), so the table drops its records through
   * it and raises its watermark there (apply rules 4, SessionTable.acknowledge). */
  readonly answeredThrough?: number;
}

export interface SessionBounds {
  readonly windowMs: number;
  readonly recordsMax: number;
  readonly resultBytesMax: number;
  readonly watermarksMax: number;
  readonly watermarkWindowMs: number;
}

export const DEFAULT_SESSION_BOUNDS: SessionBounds = Object.freeze({
  windowMs: IDEMPOTENCY_WINDOW_MS,
  recordsMax: IDEMPOTENCY_RECORDS_MAX,
  resultBytesMax: IDEMPOTENCY_RESULT_BYTES_MAX,
  watermarksMax: IDEMPOTENCY_WATERMARKS_MAX,
  watermarkWindowMs: IDEMPOTENCY_WATERMARK_WINDOW_MS,
});

/** Per client (and user), the highest sequence number whose record left the table. */
export interface ClientWatermark {
  /** The client id, then NUL and the user when scoped (as SessionRecord.key). */
  readonly client: string;
  readonly seq: number;
  /** Log time when it was last raised. */
  readonly timeMs: number;
}

/** The sequence number of a client-library key (CLIENT_KEY), or undefined for a key of another form. */
export function clientKeySeq(key: string): number | undefined {
  return parseClientKey({ key, digest: '' })?.seq;
}

/** The client and sequence number of a client-library key (CLIENT_KEY), or undefined. */
export function parseClientKey(tag: IdempotencyTag): { client: string; seq: number } | undefined {
  const m = CLIENT_KEY.exec(tag.key);
  if (m === null) return undefined;
  const seq = Number(m[2]);
  if (!Number.isSafeInteger(seq)) return undefined;
  return { client: tag.user === undefined ? m[1]! : `${m[1]!}\u0000${tag.user}`, seq };
}

/** One recorded first result (immutable: snapshots hold references to it). `R`: the state
 * machine's result (the store's CommandResult; the simulator's KV, a log index). */
export interface SessionRecord<R = CommandResult> {
  /** The table's key: the client's key, then NUL and the user when scoped. */
  readonly key: string;
  readonly digest: string;
  /** Log time of the entry that made it. */
  readonly timeMs: number;
  /** What it counts against resultBytesMax: the JSON length of `result`, plus the lengths
   * of `key` and `digest`, plus IDEMPOTENCY_RECORD_OVERHEAD_BYTES. */
  readonly bytes: number;
  readonly result: R;
}

/** The snapshot form: the log clock, the records oldest first, and the client watermarks
 * least recently raised first. */
export interface SessionsSnapshot<R = CommandResult> {
  readonly logTimeMs: number;
  readonly records: readonly SessionRecord<R>[];
  readonly watermarks: readonly ClientWatermark[];
}

export type SessionLookup<R = CommandResult> =
  { readonly kind: 'new' } | { readonly kind: 'replay'; readonly result: R } | { readonly kind: 'reused' } | { readonly kind: 'expired' };

/** The key of the table for a tag: a client key holds no NUL, so the split is unambiguous. */
export function sessionKey(tag: IdempotencyTag): string {
  return tag.user === undefined ? tag.key : `${tag.key}\u0000${tag.user}`;
}

export class SessionTable<R = CommandResult> {
  private logTime = 0;
  private readonly byKey = new Map<string, SessionRecord<R>>();
  /** The records in log order from `head` on (a queue: expiry and eviction pop its front). */
  private order: SessionRecord<R>[] = [];
  private head = 0;
  private resultBytes = 0;
  /** Client watermarks in the order they were last raised (a Map keeps insertion order: a
   * raise deletes and sets again), so expiry and eviction take from the front. */
  private readonly watermarks = new Map<string, ClientWatermark>();
  /** The records held per client of the client library (parseClientKey's client): the record
   * itself while it is the client's only one (most clients: one write in flight), else by seq
   * (ClientRecords), so that an acknowledgement finds what it drops without a walk. */
  private readonly byClient = new Map<string, SessionRecord<R> | ClientRecords<SessionRecord<R>>>();

  constructor(readonly bounds: SessionBounds = DEFAULT_SESSION_BOUNDS) {
    assert(
      bounds.windowMs > 0 && bounds.recordsMax > 0 && bounds.resultBytesMax > 0 && bounds.watermarksMax > 0 && bounds.watermarkWindowMs > 0,
      'session bounds must be positive',
    );
  }

  /** Client watermarks held. */
  get watermarkCount(): number {
    return this.watermarks.size;
  }

  /** The log clock: the largest entry timestamp applied so far (0: none). */
  get logTimeMs(): number {
    return this.logTime;
  }

  get size(): number {
    return this.byKey.size;
  }

  get bytes(): number {
    return this.resultBytes;
  }

  /** Slots of the order queue: the records held and those dropped ahead of the front (memory). */
  get queueSlots(): number {
    return this.order.length - this.head;
  }

  /** An entry stamped `timeMs` is being applied: the clock moves forward (never back: a new
   * leader's clock may be behind), by at most LOG_CLOCK_STEP_MS_MAX (the first stamp sets it),
   * and the records it leaves behind the window expire. */
  advance(timeMs: number): void {
    if (timeMs <= this.logTime) return;
    this.logTime = this.logTime === 0 ? timeMs : Math.min(timeMs, this.logTime + LOG_CLOCK_STEP_MS_MAX);
    // Each record is popped once: bounded work per apply, amortised.
    for (;;) {
      this.skipDropped();
      if (this.head === this.order.length || this.order[this.head]!.timeMs + this.bounds.windowMs > this.logTime) break;
      this.popOldest();
    }
    for (const w of this.watermarks.values()) {
      if (w.timeMs + this.bounds.watermarkWindowMs > this.logTime) break;
      this.watermarks.delete(w.client);
    }
  }

  /** `expired`: no record, and the key is a client-library key at or below its client's
   * watermark: its record left the table, the first attempt's outcome is unknown here. */
  lookup(tag: IdempotencyTag): SessionLookup<R> {
    const record = this.byKey.get(sessionKey(tag));
    if (record === undefined) {
      const parsed = parseClientKey(tag);
      const mark = parsed === undefined ? undefined : this.watermarks.get(parsed.client);
      return mark !== undefined && parsed!.seq <= mark.seq ? { kind: 'expired' } : { kind: 'new' };
    }
    return record.digest === tag.digest ? { kind: 'replay', result: record.result } : { kind: 'reused' };
  }

  /**
   * A keyed write of a client-library key says its client has every answer through
   * `answeredThrough` (below its own seq; validate-command checks the shape): that client's
   * records through it are dropped, and its watermark raised there, so that a late copy of one
   * of those writes is answered IDEMPOTENCY_KEY_EXPIRED instead of applied. The table then holds
   * about one record per write in flight instead of one per write of the last window.
   */
  acknowledge(tag: IdempotencyTag): void {
    const through = tag.answeredThrough;
    if (through === undefined) return;
    const parsed = parseClientKey(tag);
    assert(
      parsed !== undefined && Number.isSafeInteger(through) && through >= 1 && through < parsed.seq,
      'answeredThrough needs a client key above it',
    );
    // Lowest seq first, each record found in O(log n): the cost is what is dropped (and the
    // heap slots of records gone before, each passed once), not what the client holds above.
    for (;;) {
      const held = this.byClient.get(parsed.client);
      const lowest = held instanceof ClientRecords ? held.lowestAtOrBelow(through)?.record : held;
      if (lowest === undefined || (held === lowest && parseTableKey(lowest.key)!.seq > through)) break;
      this.drop(lowest);
    }
    if (through > (this.watermarks.get(parsed.client)?.seq ?? 0)) this.setWatermark(parsed.client, through);
    // Dropped records keep their queue slots until the front passes them, which expiry does
    // only after the window: rebuild the queue once they outnumber the records held.
    const dropped = this.order.length - this.head - this.byKey.size;
    if (dropped > Math.max(QUEUE_DROPPED_COMPACT_MIN, this.byKey.size)) {
      this.order = this.order.slice(this.head).filter((record) => this.isHeld(record));
      this.head = 0;
    }
  }

  /** Records the first result of `tag` (decided by the state machine), then keeps within the bounds. */
  record(tag: IdempotencyTag, result: R): void {
    const key = sessionKey(tag);
    assert(!this.byKey.has(key), `session key ${JSON.stringify(tag.key)} recorded twice`);
    const bytes = JSON.stringify(result).length + key.length + tag.digest.length + IDEMPOTENCY_RECORD_OVERHEAD_BYTES;
    this.push({ key, digest: tag.digest, timeMs: this.logTime, bytes, result });
    while (this.byKey.size > this.bounds.recordsMax) this.popOldest();
    while (this.resultBytes > this.bounds.resultBytesMax && this.byKey.size > 1) this.popOldest();
  }

  toSnapshot(): SessionsSnapshot<R> {
    const records: SessionRecord<R>[] = [];
    for (let i = this.head; i < this.order.length; i++) if (this.isHeld(this.order[i]!)) records.push(this.order[i]!);
    return { logTimeMs: this.logTime, records, watermarks: [...this.watermarks.values()] };
  }

  /** Loads a snapshot's table (shape-checked by decodeSnapshotData) into an empty one. */
  load(snapshot: SessionsSnapshot<R>): void {
    assert(this.byKey.size === 0 && this.logTime === 0, 'SessionTable.load into a used table');
    this.logTime = snapshot.logTimeMs;
    let previous = 0;
    for (const r of snapshot.records) {
      if (r.timeMs < previous || r.timeMs > this.logTime || this.byKey.has(r.key)) throw new Error('invalid snapshot: session records out of order');
      previous = r.timeMs;
      this.push(r);
    }
    previous = 0;
    for (const w of snapshot.watermarks) {
      if (w.timeMs < previous || w.timeMs > this.logTime || this.watermarks.has(w.client))
        throw new Error('invalid snapshot: client watermarks out of order');
      previous = w.timeMs;
      this.watermarks.set(w.client, w);
    }
    if (this.watermarks.size > this.bounds.watermarksMax) throw new Error('invalid snapshot: too many client watermarks');
  }

  private push(record: SessionRecord<R>): void {
    this.byKey.set(record.key, record);
    this.order.push(record);
    this.resultBytes += record.bytes;
    const parsed = parseTableKey(record.key);
    if (parsed === undefined) return;
    const held = this.byClient.get(parsed.client);
    if (held === undefined) {
      this.byClient.set(parsed.client, record);
    } else if (held instanceof ClientRecords) {
      held.add(parsed.seq, record);
    } else {
      const both = new ClientRecords<SessionRecord<R>>();
      both.add(parseTableKey(held.key)!.seq, held);
      both.add(parsed.seq, record);
      this.byClient.set(parsed.client, both);
    }
  }

  /** Whether `record` (from the order queue) is still in the table: one dropped by an
   * acknowledgement stays in the queue until the front reaches it. */
  private isHeld(record: SessionRecord<R>): boolean {
    return this.byKey.get(record.key) === record;
  }

  /** Takes a held record out of the table (its queue slot stays, no longer held). */
  private drop(record: SessionRecord<R>): void {
    assert(this.isHeld(record), 'dropping a session record not held');
    this.byKey.delete(record.key);
    this.resultBytes -= record.bytes;
    const parsed = parseTableKey(record.key);
    if (parsed === undefined) return;
    const held = this.byClient.get(parsed.client);
    if (held instanceof ClientRecords) {
      assert(held.get(parsed.seq) === record, 'a client record missing from its client');
      held.remove(parsed.seq);
      if (held.size === 0) this.byClient.delete(parsed.client);
    } else {
      assert(held === record, 'a client record missing from its client');
      this.byClient.delete(parsed.client);
    }
  }

  /** Clients of the client library with records held (each indexed once). */
  get clientsIndexed(): number {
    return this.byClient.size;
  }

  /** Moves the front past records already dropped (each slot is passed once). */
  private skipDropped(): void {
    while (this.head < this.order.length && !this.isHeld(this.order[this.head]!)) this.advanceHead();
  }

  /** Takes the oldest held record out, and raises its client's watermark to it. */
  private popOldest(): void {
    this.skipDropped();
    const oldest = this.order[this.head];
    assert(oldest !== undefined, 'popOldest on an empty session table');
    this.advanceHead();
    this.drop(oldest);
    const parsed = parseTableKey(oldest.key);
    if (parsed !== undefined) this.setWatermark(parsed.client, parsed.seq);
  }

  private advanceHead(): void {
    this.order[this.head] = undefined as unknown as SessionRecord<R>;
    this.head++;
    // Compact once the popped front is most of the array: amortised O(1) per record.
    if (this.head >= 1024 && this.head * 2 >= this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  /** Raises a client's watermark to `seq` (never lowers it) as of now; the least recently
   * raised watermarks beyond the bound go. */
  private setWatermark(client: string, seq: number): void {
    const current = this.watermarks.get(client);
    if (current !== undefined) this.watermarks.delete(client);
    this.watermarks.set(client, { client, seq: Math.max(seq, current?.seq ?? 0), timeMs: this.logTime });
    if (this.watermarks.size > this.bounds.watermarksMax) this.watermarks.delete(this.watermarks.keys().next().value!);
  }
}

/** The client and seq of a table key (the client's key, then NUL and the user when scoped). */
function parseTableKey(key: string): { client: string; seq: number } | undefined {
  const nul = key.indexOf('\u0000');
  return parseClientKey(nul === -1 ? { key, digest: '' } : { key: key.slice(0, nul), digest: '', user: key.slice(nul + 1) });
}
