// The disk's limit for durable inserts (bench/fixtures/disk-sync.ts): measured on a real file,
// the ceiling follows from the measured latency, and the file is gone afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureDiskSync } from '../../bench/fixtures/disk-sync.ts';

test('one durable write is timed both ways, and 64 writers can do no more than 64 of them at a time', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cs-disk-sync-'));
  try {
    const disk = await measureDiskSync(dir, 20);
    assert.ok(disk.syncWriteP50Us > 0 && disk.poolWriteP50Us > 0, JSON.stringify(disk));
    const expected = (64 * 1e6) / disk.syncWriteP50Us;
    // The ceiling comes from the unrounded median: within the rounding of the latency.
    assert.ok(Math.abs(disk.ceiling64WritersPerSecond - expected) <= expected / (2 * disk.syncWriteP50Us) + 1, JSON.stringify(disk));
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
