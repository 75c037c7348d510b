// Turns an applied command and its result into per-document change events,
// the feed behind `GET /api/:collection/_changes`.
import type { Command, CommandResult, TxOp, TxOpResult } from '../store/commands.ts';
import type { Document } from '../store/types.ts';
import type { ChangeEvent } from './backend.ts';

/** A replayed result (a keyed write applied before, store/sessions.ts) changed nothing: no events. */
export function changesOf(command: Command, result: CommandResult, index: number): ChangeEvent[] {
  if (!result.ok || result.replayed === true) return [];
  switch (command.type) {
    case 'insert':
    case 'update':
    case 'replace':
    case 'remove':
      return opChanges(command, result.value as TxOpResult, index);
    case 'tx': {
      const values = result.value as TxOpResult[];
      return command.ops.flatMap((op, i) => opChanges(op, values[i]!, index));
    }
    case 'batch': {
      const results = result.value as CommandResult<'insert'>[];
      return command.ops.flatMap((op, i) => {
        const r = results[i]!;
        return r.ok && r.replayed !== true ? opChanges(op, r.value, index) : [];
      });
    }
    default:
      return [];
  }
}

function opChanges(op: TxOp, value: TxOpResult, rev: number): ChangeEvent[] {
  const collection = op.collection;
  switch (op.type) {
    case 'insert':
      return (value as Document[]).map((doc) => ({ collection, op: 'insert', id: doc._id, rev, doc }));
    case 'update': {
      const docs = (value as { docs: Document[] }).docs;
      // Only documents this command changed carry its revision.
      return docs.filter((doc) => doc._rev === rev).map((doc) => ({ collection, op: 'update', id: doc._id, rev, doc }));
    }
    case 'replace': {
      const doc = (value as { doc: Document }).doc;
      return [{ collection, op: 'replace', id: doc._id, rev, doc }];
    }
    case 'remove':
      return (value as { ids: string[] }).ids.map((id) => ({ collection, op: 'remove', id, rev }));
  }
}
