// The two doors to the backend used by every route: reads wait for the read
// barrier of their consistency level and then use the store; writes are
// validated in full (so malformed input never reaches the log) and executed.
import type { FastifyReply } from 'fastify';
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

/** A write's Idempotency-Key (idempotency.ts) and the reply to mark when its result is replayed. */
export interface Keyed {
  readonly tag: IdempotencyTag | undefined;
  readonly reply: FastifyReply;
}

/** Validates the command, replicates it and returns its value; a store error is thrown typed.
 * With `keyed.tag`, the command carries it into the log (applied at most once per key), and a
 * result recorded by an earlier request with that key marks the reply `Idempotent-Replayed:
 * true`, success and error alike; any other answer to a keyed write says `false`. */
export async function runCommand<T extends Command['type']>(
  backend: DatabaseBackend,
  command: Command & { type: T },
  keyed?: Keyed,
): Promise<ResultValues[T]> {
  const tagged: Command = keyed?.tag !== undefined ? { ...(command as KeyedCommand), idempotency: keyed.tag } : command;
  validateCommand(tagged, { limits: backend.store.limits });
  if (keyed?.tag !== undefined) markKeyed(keyed.reply);
  const result = await backend.execute(tagged, { validated: true });
  if (keyed?.tag !== undefined) markReplayed(keyed.reply, result);
  if (!result.ok) throw errorFromInfo(result.error);
  return result.value as ResultValues[T];
}
