// The two doors to the backend used by every route: reads wait for the read
// barrier of their consistency level and then use the store; writes are
// validated in full (so malformed input never reaches the log) and executed.
import type { FastifyReply } from 'fastify';
import { InvariantError } from '../assert.ts';
import type { DatabaseBackend, ReadConsistency } from '../node/backend.ts';
import type { Command, KeyedCommand, ResultValues } from '../store/commands.ts';
import type { IdempotencyTag } from '../store/sessions.ts';
import { markKeyed, markReplayed } from './idempotency.ts';
import { errorFromInfo } from '../store/errors.ts';
import type { Store } from '../store/store.ts';
import { validateCommand } from '../store/validate.ts';

export async function readableStore(backend: DatabaseBackend, consistency: ReadConsistency): Promise<Store> {
  await backend.readBarrier(consistency);
  return backend.store;
}

/** A write's Idempotency-Key (idempotency.ts) and the reply to mark when its result is
 * replayed; the reply's request says who the write is proposed for (its authenticated user). */
export interface Keyed {
  readonly tag: IdempotencyTag | undefined;
  readonly reply: FastifyReply;
}

/** Validates the command, replicates it and returns its value; a store error is thrown typed.
 * With `keyed.tag`, the command carries it into the log (applied at most once per key), and a
 * result recorded by an earlier request with that key marks the reply `Idempotent-Replayed:
 * true`, success and error alike; any other answer to a keyed write says `false`. With
 * authentication on, the entry names the user of `keyed.reply`'s request (ProposedFor: history
 * and audit records carry it), taken from its credentials, never from anything it sent. */
export async function runCommand<T extends Command['type']>(
  backend: DatabaseBackend,
  command: Command & { type: T },
  keyed?: Keyed,
): Promise<ResultValues[T]> {
  // Routes build commands field by field from what they accept: none names a user.
  if (command.user !== undefined) throw new InvariantError('a route named the user of a write: only the request credentials do');
  const user = keyed?.reply.request.principal?.user.name;
  const tagged: Command = {
    ...(keyed?.tag !== undefined ? { ...(command as KeyedCommand), idempotency: keyed.tag } : command),
    ...(user !== undefined ? { user } : {}),
  };
  validateCommand(tagged, { limits: backend.store.limits });
  if (keyed?.tag !== undefined) markKeyed(keyed.reply);
  const result = await backend.execute(tagged, { validated: true });
  if (keyed?.tag !== undefined) markReplayed(keyed.reply, result);
  if (!result.ok) throw errorFromInfo(result.error);
  return result.value as ResultValues[T];
}
