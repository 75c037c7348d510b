// The chaos history (src/chaos/history.ts): kept in columns while the load runs, it gives the
// same operations, events and history.jsonl as the objects it used to keep.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChaosHistory } from '../../src/chaos/history.ts';

test('operations and events, in order, with the fields and key order of the Jepsen history', () => {
  const history = new ChaosHistory();
  const w = history.invoke(1, 'write', 'k0', 'a', 2);
  const r = history.invoke(2, 'read', 'k0', null, 3);
  history.complete(w, 'ok', 'a', { rev: 4 });
  const c = history.invoke(3, 'cas', 'k1', ['a', 'b'], 1);
  history.complete(r, 'ok', 'a', { rev: 4 });
  history.complete(c, 'fail', 'b', { error: 'PRECONDITION_FAILED' });
  history.invoke(4, 'cas', 'k2', [null, 'c'], 2);
  assert.throws(() => history.complete(w, 'ok', 'a'), /completed twice/);
  assert.equal(history.okOps, 2);
  assert.equal(history.ops[3]!.complete, null);
  history.closePending();

  const lines = history
    .toJsonl()
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const times = lines.map((e) => e['time'] as number);
  assert.deepEqual(
    times,
    [...times].sort((a, b) => a - b),
  );
  const withoutTime = lines.map(({ time: _time, ...rest }) => rest);
  assert.deepEqual(withoutTime, [
    { process: 1, type: 'invoke', f: 'write', key: 'k0', value: 'a', node: 2 },
    { process: 2, type: 'invoke', f: 'read', key: 'k0', value: null, node: 3 },
    { process: 1, type: 'ok', f: 'write', key: 'k0', value: 'a', node: 2, rev: 4 },
    { process: 3, type: 'invoke', f: 'cas', key: 'k1', value: ['a', 'b'], node: 1 },
    { process: 2, type: 'ok', f: 'read', key: 'k0', value: 'a', node: 3, rev: 4 },
    { process: 3, type: 'fail', f: 'cas', key: 'k1', value: 'b', node: 1, error: 'PRECONDITION_FAILED' },
    { process: 4, type: 'invoke', f: 'cas', key: 'k2', value: [null, 'c'], node: 2 },
    { process: 4, type: 'info', f: 'cas', key: 'k2', value: [null, 'c'], node: 2, error: 'still pending at the end of the run' },
  ]);
  assert.deepEqual(Object.keys(lines[2]!), ['process', 'type', 'f', 'key', 'value', 'time', 'node', 'rev']);

  const ops = history.ops;
  assert.equal(ops.length, 4);
  assert.equal(ops[0]!.invoke, history.events[0]);
  assert.equal(ops[0]!.complete, history.events[2]);
  assert.ok(ops.every((op) => op.complete !== null && op.complete.time >= op.invoke.time));
});
