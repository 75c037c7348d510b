// Client-side document ids. An insert carries its `_id` from its first attempt, so a
// retry of an insert whose first attempt was applied meets a 409 on that same `_id`
// instead of creating a second document. Ids are time-ordered (a creation-time sort
// is an `_id` sort) and unique without coordination: 12 hex digits of milliseconds,
// 6 of a per-process counter, 10 of process-random bits.
import { randomBytes } from 'node:crypto';

const COUNTER_LIMIT = 0x1000000;

export type IdGenerator = () => string;

export function createIdGenerator(now: () => number = Date.now, random: (bytes: number) => Buffer = randomBytes): IdGenerator {
  const node = random(5).toString('hex');
  let lastMs = 0;
  let counter = random(2).readUInt16BE(0); // start anywhere: two generators in one ms rarely collide on the counter too
  return () => {
    // The clock may step back; ids must not.
    const ms = Math.max(now(), lastMs);
    if (ms !== lastMs) lastMs = ms;
    counter += 1;
    if (counter >= COUNTER_LIMIT) {
      // Counter wrapped inside one millisecond: borrow the next one to stay ordered.
      counter = 0;
      lastMs += 1;
    }
    return lastMs.toString(16).padStart(12, '0') + counter.toString(16).padStart(6, '0') + node;
  };
}
