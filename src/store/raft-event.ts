// The record of one change of one document, as the seeds name it (Lithair's `RaftEvent`): what
// per-document history (`GET /api/:collection/:id/_history`), the audit chain and change
// streams (`GET /api/:collection/_changes`) hand out. Every field is fixed by the log entry
// that made the change, so every node derives the same record.

/**
 * What happened to the document. `Dropped` is the one change of a whole collection, and only
 * change streams have it (history and audit record document changes): the collection was
 * dropped (`DELETE /api/:collection`), every document in it is gone, `aggregateId` is empty
 * and there is no `data`. One event, not a `Deleted` per document: a drop costs the same
 * whatever the collection holds, and a watcher clears what it kept of the collection.
 */
export type RaftEventType = 'Created' | 'Updated' | 'Replaced' | 'Deleted' | 'Dropped';

export interface RaftEvent {
  /** Unique and ordered: `<sequence>.<position>`, the log index of the entry and the change's
   * position among the changes that entry made (a transaction or batch makes several). */
  readonly eventId: string;
  /** The collection of the document. */
  readonly collection: string;
  /** The document's `_id` (empty for `Dropped`). */
  readonly aggregateId: string;
  readonly eventType: RaftEventType;
  /** The new version of the document; absent for `Deleted`. */
  readonly data?: Record<string, unknown>;
  /** The log index of the entry that made the change. */
  readonly sequence: number;
  /** The change's position among the changes of its entry, from 0. */
  readonly position: number;
  /** The term of the entry. */
  readonly term: number;
  /** Milliseconds since the epoch, by the proposing leader's clock (the entry's stamp). */
  readonly timestamp: number;
  /** The id of the leader that proposed the entry. */
  readonly nodeId: number;
  /** The authenticated user who asked for the write, when authentication is on. */
  readonly user?: string;
}

/** The id of the change at `position` in the entry at log index `sequence`. */
export function raftEventId(sequence: number, position: number): string {
  return `${sequence}.${position}`;
}
