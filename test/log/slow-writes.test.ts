// A write batch that takes LOG_WRITE_SLOW_MS or longer is kept in the log's stats (GET
// /cluster/status: slowLogWrites) and told to the listener (a node's warning log); faster
// ones are not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOG_WRITE_SLOW_MS, openFileLog, type SlowLogWrite } from '../../src/log/index.ts';
import { SLOW_LOG_WRITES_KEPT_MAX, SlowWrites } from '../../src/log/slow-writes.ts';
import { range, withTempDir } from './helpers.ts';

test('a batch that takes LOG_WRITE_SLOW_MS or longer is listed and told; a fast one is not', () =>
  withTempDir(async (dir) => {
    const told: SlowLogWrite[] = [];
    const log = await openFileLog({ dir, onSlowWrite: (write) => told.push(write) });
    await log.append(range(1, 3, 1));
    // Usually none (a few entries on a temp dir), but a slow disk may make the first one slow.
    const before = log.stats!().slowWrites.length;
    // The writer times a batch with performance.now(): make the clock jump while one is written.
    const realNow = performance.now.bind(performance);
    let jumps = 0;
    performance.now = () => realNow() + LOG_WRITE_SLOW_MS * 2 * jumps++;
    try {
      await log.append(range(4, 6, 1));
    } finally {
      performance.now = realNow;
    }
    const all = log.stats!().slowWrites;
    assert.equal(all.length, before + 1, 'the batch written while the clock jumped is listed');
    const slow = all.at(-1)!;
    assert.ok(slow.durationMs >= LOG_WRITE_SLOW_MS, String(slow.durationMs));
    assert.ok(slow.bytes > 0);
    assert.ok(Math.abs(slow.endedAt - Date.now()) < 5000);
    assert.deepEqual(told, all, 'each listed write was told');
    await log.close();
  }));

test('SlowWrites keeps the newest SLOW_LOG_WRITES_KEPT_MAX', () => {
  const slow = new SlowWrites(undefined);
  slow.observe(LOG_WRITE_SLOW_MS - 0.1, 1);
  assert.equal(slow.list().length, 0);
  for (let i = 0; i < SLOW_LOG_WRITES_KEPT_MAX + 5; i++) slow.observe(LOG_WRITE_SLOW_MS + i, i);
  const list = slow.list();
  assert.equal(list.length, SLOW_LOG_WRITES_KEPT_MAX);
  assert.equal(list[0]!.bytes, 5);
  assert.equal(list.at(-1)!.bytes, SLOW_LOG_WRITES_KEPT_MAX + 4);
});
