// Per-document history (`trackHistory`): every change of a document of a tracked collection,
// as a RaftEvent record, oldest first. Part of the state machine: built at apply from the log
// entry (its index, term, stamp), kept in snapshots, and pruned only by rules that read the
// log (count, the log clock), so every replica keeps the same records.

import type { RaftEvent } from './raft-event.ts';
import { HISTORY_VERSIONS_DEFAULT, type HistoryRetention } from './schema.ts';

/** History records kept by one store in all, at most; past it the oldest records of any
 * document go first. Records share the stored documents' objects (frozen), so a record costs
 * about 200 bytes plus each version of a document that is no longer current. */
export const HISTORY_RECORDS_MAX = 1_000_000;

function keyOf(collection: string, id: string): string {
  return `${collection}\u0000${id}`;
}

/** Where to read an old version: at or before a log index, or a log time (ms). */
export type AsOf = { readonly sequence: number } | { readonly timeMs: number };

/** Whether reads may see a record: not older than the retention's `maxAgeMs` by the log clock
 * (records past it are pruned only when their document is written again). */
function isKept(event: RaftEvent, retention: HistoryRetention | undefined, logTimeMs: number): boolean {
  const maxAgeMs = retention?.maxAgeMs;
  return maxAgeMs === undefined || event.timestamp >= logTimeMs - maxAgeMs;
}

export class HistoryStore {
  private readonly byDoc = new Map<string, RaftEvent[]>();
  /** Records in the order they were added, for the store-wide bound: entries whose record was
   * pruned since are skipped when they reach the head. */
  private queue: { key: string; eventId: string }[] = [];
  private head = 0;
  private count = 0;

  constructor(private readonly recordsMax: number = HISTORY_RECORDS_MAX) {}

  get size(): number {
    return this.count;
  }

  /** Appends a record, then applies the retention of its collection's model. */
  append(event: RaftEvent, retention: HistoryRetention | undefined, logTimeMs: number): void {
    const key = keyOf(event.collection, event.aggregateId);
    let versions = this.byDoc.get(key);
    if (versions === undefined) {
      versions = [];
      this.byDoc.set(key, versions);
    }
    versions.push(event);
    this.queue.push({ key, eventId: event.eventId });
    this.count++;
    const maxVersions = retention?.maxVersions ?? HISTORY_VERSIONS_DEFAULT;
    while (versions.length > maxVersions) this.dropOldest(key, versions);
    const maxAgeMs = retention?.maxAgeMs;
    if (maxAgeMs !== undefined) {
      while (versions.length > 1 && versions[0]!.timestamp < logTimeMs - maxAgeMs) this.dropOldest(key, versions);
    }
    while (this.count > this.recordsMax) this.evictOldest();
    if (this.head > 1024 && this.head > this.queue.length / 2) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private dropOldest(key: string, versions: RaftEvent[]): void {
    versions.shift();
    this.count--;
    if (versions.length === 0) this.byDoc.delete(key);
  }

  private evictOldest(): void {
    while (this.head < this.queue.length) {
      const { key, eventId } = this.queue[this.head++]!;
      const versions = this.byDoc.get(key);
      if (versions !== undefined && versions[0]!.eventId === eventId) {
        this.dropOldest(key, versions);
        return;
      }
    }
  }

  /** The document's versions, oldest first, without those older than `maxAgeMs` by the log clock. */
  versions(collection: string, id: string, retention?: HistoryRetention, logTimeMs = 0): readonly RaftEvent[] {
    const versions = this.byDoc.get(keyOf(collection, id)) ?? [];
    if (retention?.maxAgeMs === undefined) return versions.slice();
    return versions.filter((e) => isKept(e, retention, logTimeMs));
  }

  /**
   * The record in force at `at` (the last one at or before it), or undefined when none is
   * kept: the document did not exist yet, or the retention dropped that record (by count or
   * by the store-wide bound: it is gone), or hides it (`maxAgeMs`: older than that by the log
   * clock, as versions() leaves it out). So asOf reads exactly the records versions() lists;
   * a point whose record is hidden is unknown, never answered by an older kept record.
   */
  asOf(collection: string, id: string, at: AsOf, retention?: HistoryRetention, logTimeMs = 0): RaftEvent | undefined {
    const versions = this.byDoc.get(keyOf(collection, id)) ?? [];
    let found: RaftEvent | undefined;
    for (const e of versions) {
      if ('sequence' in at ? e.sequence > at.sequence : e.timestamp > at.timeMs) break;
      found = e;
    }
    return found !== undefined && isKept(found, retention, logTimeMs) ? found : undefined;
  }

  /** Every record kept, ordered by log index and position (the snapshot's form). */
  records(): RaftEvent[] {
    const out: RaftEvent[] = [];
    for (const versions of this.byDoc.values()) out.push(...versions);
    return out.sort((a, b) => a.sequence - b.sequence || a.position - b.position);
  }

  /** Loads records from a snapshot (in the order records() gave them). */
  load(records: readonly RaftEvent[]): void {
    for (const event of records) {
      const key = keyOf(event.collection, event.aggregateId);
      let versions = this.byDoc.get(key);
      if (versions === undefined) {
        versions = [];
        this.byDoc.set(key, versions);
      }
      versions.push(event);
      this.queue.push({ key, eventId: event.eventId });
      this.count++;
    }
  }
}
