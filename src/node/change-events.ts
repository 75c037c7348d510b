// Turns an applied command and its result into change events (RaftEvent records,
// store/raft-event.ts): one per document changed, and one `Dropped` for a dropped collection.
// The feed behind change streams (`GET /api/:collection/_changes`, `GET /api/_changes`) and
// `watch()`. Everything here is read from the log entry and the
// deterministic result of applying it, so every node derives the same events for an entry.
import { proposedUser, type Command, type CommandResult, type DropResultValue, type TxOp, type TxOpResult } from '../store/commands.ts';
import { raftEventId, type RaftEvent, type RaftEventType } from '../store/raft-event.ts';
import type { Document } from '../store/types.ts';
import { assert } from '../assert.ts';

/** What the change events of an entry take from the entry itself. */
export interface AppliedEntry {
  readonly index: number;
  readonly term: number;
}

/** The fields every event of one entry shares, read from the entry and its command's stamp. */
interface EntryFields {
  readonly sequence: number;
  readonly term: number;
  readonly timestamp: number;
  readonly nodeId: number;
  readonly user?: string;
}

/**
 * The one place the shared fields are derived. `timestamp` is the leader's stamp (`timeMs`);
 * `nodeId` is the proposing leader's id once entries carry it in their stamp (0 until then);
 * `user` is the user the write was proposed for (userOf; a batch's inserts name their own).
 */
function entryFields(command: Command, entry: AppliedEntry): EntryFields {
  const stamped = command as Command & { nodeId?: unknown };
  const user = proposedUser(command);
  return {
    sequence: entry.index,
    term: entry.term,
    timestamp: command.timeMs ?? 0,
    nodeId: typeof stamped.nodeId === 'number' ? stamped.nodeId : 0,
    ...(user !== undefined ? { user } : {}),
  };
}

/**
 * The changes of one applied entry, held as columns (a few arrays per entry, no object per
 * change): the change log retains 100,000 changes, and an object or three per change, kept for
 * seconds, is what the garbage collector copies and promotes under a write load. The events are
 * made from the columns when a stream reads them (`event(position)`); the documents are the
 * store's own frozen ones, shared.
 */
export class EntryChanges {
  /** Per change: its collection. */
  private readonly collections: string[] = [];
  /** Per change: its document (the new version), or, when it has none (`Deleted`, `Dropped`), its id. */
  private readonly docsOrIds: (Document | string)[] = [];
  private readonly types: RaftEventType[] = [];
  /** Per change: a batch insert's own user, when any change has one (the entry names none). */
  private users: (string | undefined)[] | undefined;

  private constructor(private readonly fields: EntryFields) {}

  /** The changes `command` made, as its result says; null when it made none (failed, replayed, or no change). */
  static of(command: Command, result: CommandResult, entry: AppliedEntry): EntryChanges | null {
    if (!result.ok || result.replayed === true) return null;
    const changes = new EntryChanges(entryFields(command, entry));
    switch (command.type) {
      case 'insert':
      case 'update':
      case 'replace':
      case 'remove':
        changes.addOp(command, result.value as TxOpResult, entry.index, undefined);
        break;
      case 'tx': {
        const values = result.value as TxOpResult[];
        command.ops.forEach((op, i) => changes.addOp(op, values[i]!, entry.index, undefined));
        break;
      }
      case 'batch': {
        const results = result.value as CommandResult<'insert'>[];
        command.ops.forEach((op, i) => {
          const r = results[i]!;
          if (r.ok && r.replayed !== true) changes.addOp(op, r.value, entry.index, proposedUser(op));
        });
        break;
      }
      case 'dropCollection':
        // One event for the whole collection (raft-event.ts, `Dropped`), when there was one.
        if ((result.value as DropResultValue).dropped) changes.add(command.collection, '', 'Dropped', undefined);
        break;
      default:
        break;
    }
    return changes.count === 0 ? null : changes;
  }

  get count(): number {
    return this.types.length;
  }

  get sequence(): number {
    return this.fields.sequence;
  }

  /** The event of the change at `position` (0 ≤ position < count), made anew at each call. */
  event(position: number): RaftEvent {
    assert(Number.isInteger(position) && position >= 0 && position < this.count, `change ${position} of ${this.count}`);
    const docOrId = this.docsOrIds[position]!;
    const doc = typeof docOrId === 'string' ? undefined : docOrId;
    const user = this.users?.[position];
    return {
      eventId: raftEventId(this.fields.sequence, position),
      collection: this.collections[position]!,
      aggregateId: doc === undefined ? (docOrId as string) : doc._id,
      eventType: this.types[position]!,
      ...(doc !== undefined ? { data: doc } : {}),
      position,
      ...this.fields,
      ...(user !== undefined ? { user } : {}),
    };
  }

  private add(collection: string, docOrId: Document | string, type: RaftEventType, user: string | undefined): void {
    if (user !== undefined && this.users === undefined) this.users = new Array<string | undefined>(this.count).fill(undefined);
    this.users?.push(user);
    this.collections.push(collection);
    this.docsOrIds.push(docOrId);
    this.types.push(type);
  }

  private addOp(op: TxOp, value: TxOpResult, rev: number, user: string | undefined): void {
    const collection = op.collection;
    switch (op.type) {
      case 'insert':
        for (const doc of value as Document[]) this.add(collection, doc, 'Created', user);
        return;
      case 'update': {
        const { docs, upsertedId } = value as { docs: Document[]; upsertedId?: string };
        // Only documents this command changed carry its revision.
        for (const doc of docs) if (doc._rev === rev) this.add(collection, doc, doc._id === upsertedId ? 'Created' : 'Updated', user);
        return;
      }
      case 'replace': {
        const { doc, created } = value as { doc: Document; created: boolean };
        this.add(collection, doc, created ? 'Created' : 'Replaced', user);
        return;
      }
      case 'remove':
        for (const id of (value as { ids: string[] }).ids) this.add(collection, id, 'Deleted', user);
        return;
    }
  }
}

/** Every change event of an applied entry, in order; a replayed result (a keyed write applied
 * before, store/sessions.ts) or a failed one changed nothing: no events. */
export function changesOf(command: Command, result: CommandResult, entry: AppliedEntry): RaftEvent[] {
  const changes = EntryChanges.of(command, result, entry);
  if (changes === null) return [];
  return Array.from({ length: changes.count }, (_, position) => changes.event(position));
}
