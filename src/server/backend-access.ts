// The two doors to the backend used by every route: reads wait for the read
// barrier of their consistency level and then use the store; writes are
// validated in full (so malformed input never reaches the log) and executed.
import type { DatabaseBackend, ReadConsistency } from '../node/backend.ts';
import type { Command, ResultValues } from '../store/commands.ts';
import { errorFromInfo } from '../store/errors.ts';
import type { Store } from '../store/store.ts';
import { validateCommand } from '../store/validate.ts';

export async function readableStore(backend: DatabaseBackend, consistency: ReadConsistency): Promise<Store> {
  await backend.readBarrier(consistency);
  return backend.store;
}

/** Validates the command, replicates it and returns its value; a store error is thrown typed. */
export async function runCommand<T extends Command['type']>(backend: DatabaseBackend, command: Command & { type: T }): Promise<ResultValues[T]> {
  validateCommand(command, { limits: backend.store.limits });
  const result = await backend.execute(command, { validated: true });
  if (!result.ok) throw errorFromInfo(result.error);
  return result.value as ResultValues[T];
}
