// Turns an applied command and its result into change events (RaftEvent records,
// store/raft-event.ts): one per document changed, and one `Dropped` for a dropped collection.
// The feed behind change streams (`GET /api/:collection/_changes`, `GET /api/_changes`) and
// `watch()`. Everything here is read from the log entry and the
// deterministic result of applying it, so every node derives the same events for an entry.
import { proposedUser, type Command, type CommandResult, type DropResultValue, type TxOp, type TxOpResult } from '../store/commands.ts';
import { raftEventId, type RaftEvent, type RaftEventType } from '../store/raft-event.ts';
import type { Document } from '../store/types.ts';

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

/** One change, before its position in the entry is known. */
interface Change {
  readonly collection: string;
  readonly id: string;
  readonly type: RaftEventType;
  readonly doc?: Document;
  /** A batch insert's own user (the entry names none). */
  readonly user?: string;
}

/** A replayed result (a keyed write applied before, store/sessions.ts) changed nothing: no events. */
export function changesOf(command: Command, result: CommandResult, entry: AppliedEntry): RaftEvent[] {
  if (!result.ok || result.replayed === true) return [];
  let changes: Change[];
  switch (command.type) {
    case 'insert':
    case 'update':
    case 'replace':
    case 'remove':
      changes = opChanges(command, result.value as TxOpResult, entry.index);
      break;
    case 'tx': {
      const values = result.value as TxOpResult[];
      changes = command.ops.flatMap((op, i) => opChanges(op, values[i]!, entry.index));
      break;
    }
    case 'batch': {
      const results = result.value as CommandResult<'insert'>[];
      changes = command.ops.flatMap((op, i) => {
        const r = results[i]!;
        if (!r.ok || r.replayed === true) return [];
        const user = proposedUser(op);
        const changes = opChanges(op, r.value, entry.index);
        return user === undefined ? changes : changes.map((change) => ({ ...change, user }));
      });
      break;
    }
    case 'dropCollection':
      // One event for the whole collection (raft-event.ts, `Dropped`), when there was one.
      if (!(result.value as DropResultValue).dropped) return [];
      changes = [{ collection: command.collection, id: '', type: 'Dropped' }];
      break;
    default:
      return [];
  }
  if (changes.length === 0) return [];
  const fields = entryFields(command, entry);
  return changes.map((change, position) => ({
    eventId: raftEventId(entry.index, position),
    collection: change.collection,
    aggregateId: change.id,
    eventType: change.type,
    ...(change.doc !== undefined ? { data: change.doc } : {}),
    position,
    ...fields,
    ...(change.user !== undefined ? { user: change.user } : {}),
  }));
}

function opChanges(op: TxOp, value: TxOpResult, rev: number): Change[] {
  const collection = op.collection;
  switch (op.type) {
    case 'insert':
      return (value as Document[]).map((doc) => ({ collection, id: doc._id, type: 'Created', doc }));
    case 'update': {
      const { docs, upsertedId } = value as { docs: Document[]; upsertedId?: string };
      // Only documents this command changed carry its revision.
      return docs
        .filter((doc) => doc._rev === rev)
        .map((doc) => ({ collection, id: doc._id, type: doc._id === upsertedId ? 'Created' : 'Updated', doc }));
    }
    case 'replace': {
      const { doc, created } = value as { doc: Document; created: boolean };
      return [{ collection, id: doc._id, type: created ? 'Created' : 'Replaced', doc }];
    }
    case 'remove':
      return (value as { ids: string[] }).ids.map((id) => ({ collection, id, type: 'Deleted' }));
  }
}
