// A keyed write whose key is already in flight on the same node waits for it (node-writes.ts,
// issue #12) - but no longer than its own deadline, and it is answered as a replay only when
// the earlier write's result is recorded in the session table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command, CommandResult } from '../../src/store/commands.ts';
import { StoreError } from '../../src/store/errors.ts';
import { fakeWrites } from './fake-write-host.ts';

const tag = { key: 'client.1', digest: 'd' };
const keyed: Command = { type: 'noop', idempotency: tag } as unknown as Command;

/** The promise's outcome, or 'pending' if it has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'pending'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

test('a waiter gives up at its own deadline (COMMIT_UNKNOWN), not after the write it waits for', async () => {
  const fake = fakeWrites({ requestTimeoutMs: 100 });
  const first = fake.writes.execute(keyed);
  first.catch(() => undefined); // never settled here (nothing applies it)
  const started = Date.now();
  const waiter = fake.writes.execute(keyed).then(
    () => 'resolved',
    (error: unknown) => error,
  );
  const outcome = await within(waiter, 2000);
  assert.ok(outcome instanceof StoreError, `got ${String(outcome)}`);
  assert.equal(outcome.code, 'COMMIT_UNKNOWN');
  assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms`);
  assert.equal(fake.proposed.length, 1, 'the waiter proposed nothing');
});

test('a result the state machine did not record is not a replay: the waiter proposes its own entry', async () => {
  const fake = fakeWrites();
  const first = fake.writes.execute(keyed);
  const waiter = fake.writes.execute(keyed);
  const refused: CommandResult = { ok: false, error: { code: 'VALIDATION', message: 'refused at apply' } };
  fake.settle(1, refused);
  assert.deepEqual(await first, refused);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(fake.proposed.length, 2, 'the waiter proposed');
  fake.settle(2, refused);
  const answer = await waiter;
  assert.equal(answer.replayed, undefined);
});

test("a recorded result is the waiter's, replayed, and the waiter proposes nothing", async () => {
  const fake = fakeWrites();
  const first = fake.writes.execute(keyed);
  const waiter = fake.writes.execute(keyed);
  const done: CommandResult = { ok: true, value: null };
  fake.recorded.set('client.1', done);
  fake.settle(1, done);
  await first;
  assert.deepEqual(await waiter, { ok: true, value: null, replayed: true });
  assert.equal(fake.proposed.length, 1);
});
