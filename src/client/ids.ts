// Client-side document ids. An insert carries its `_id` from its first attempt, so a
// retry of an insert whose first attempt was applied meets a 409 on that same `_id`
// instead of creating a second document. The ids are the store's (src/store/ids.ts): the
// same form whether a document was inserted embedded, through a node, or through this
// client; time-ordered (a creation-time sort is an `_id` sort) and unique without
// coordination (48 random bits per id besides the time and a per-millisecond sequence).
import { randomBytes } from 'node:crypto';
import { createIdGenerator as createStoreIdGenerator } from '../store/ids.ts';

export type IdGenerator = () => string;

export function createIdGenerator(now: () => number = Date.now, random: (bytes: number) => Uint8Array = randomBytes): IdGenerator {
  return createStoreIdGenerator(now, random);
}
