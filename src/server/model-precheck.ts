// Refusing a write whose documents fail their collection's model before anything is proposed
// (issue #14: "validation runs before proposing ... and again deterministically at apply"): an
// invalid document costs no log entry. The check runs on the node that received the request,
// against its applied state (Store.modelFailure: the documents built as apply would build
// them). A passing check proposes the command as it came (not the conformed documents): the
// check at apply, against the model then in force, decides what is stored, the same on every
// node. A failing check is not trusted alone, since this node's state may be behind (a follower
// that has not applied a schema change yet, or the write that made an update valid): the node
// waits for a linearizable read point and checks again, and only a write that still fails
// there is refused. That refusal is the answer applying the write at that point would give
// (a failed command changes nothing), so it is linearizable; only invalid writes pay the wait.
import type { DatabaseBackend } from '../node/backend.ts';
import type { Command, ResultValues } from '../store/commands.ts';
import type { IdempotencyTag } from '../store/sessions.ts';
import { runCommand, type Keyed } from './backend-access.ts';
import { markKeyed } from './idempotency.ts';
import { updateFailure } from './update-precheck.ts';

/**
 * Throws VALIDATION_FAILED when `command` would fail its collection's model at a linearizable
 * read point. A keyed write whose key is already recorded is never refused here: it goes to
 * the log, which answers the key's first result.
 */
export async function refuseInvalidDocuments(
  backend: Pick<DatabaseBackend, 'store' | 'readBarrier'>,
  command: Command,
  tag: IdempotencyTag | undefined,
): Promise<void> {
  if ((await firstFailure(backend, command, tag)) === undefined) return;
  await backend.readBarrier('linearizable');
  const failure = await firstFailure(backend, command, tag);
  if (failure !== undefined) throw failure;
}

/** The documents a command writes as they are known before applying it (inserts, replaces,
 * updates by id: Store.modelFailure, at once), then the updates by filter, which may match
 * many documents (update-precheck.ts: bounded, in slices). */
async function firstFailure(backend: Pick<DatabaseBackend, 'store'>, command: Command, tag: IdempotencyTag | undefined): Promise<Error | undefined> {
  const store = backend.store;
  if (tag !== undefined && store.sessions.lookup(tag).kind !== 'new') return undefined;
  if (command.type === 'update') return updateFailure(store, command);
  return store.modelFailure(command) ?? (await updateFailure(store, command));
}

/** runCommand (backend-access.ts) after refuseInvalidDocuments: the door of the routes that
 * write documents. A keyed write's reply says `Idempotent-Replayed: false` when refused here. */
export async function runCheckedCommand<T extends Command['type']>(
  backend: DatabaseBackend,
  command: Command & { type: T },
  keyed: Keyed,
): Promise<ResultValues[T]> {
  if (keyed.tag !== undefined) markKeyed(keyed.reply);
  await refuseInvalidDocuments(backend, command, keyed.tag);
  return runCommand<T>(backend, command, keyed);
}
