// The embedded bench's HTML report draws every side-by-side measure against the peers that ran
// (not one that was skipped), and the ratios in one chart; the guard compares the uncached
// equality query too.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { embeddedGuard } from '../../bench/embedded-guard.ts';
import { writeEmbeddedReport, type EmbeddedResults } from '../../bench/fixtures/embedded-report.ts';
import type { PeerMeasure } from '../../bench/side-by-side.ts';

function measure(unit: string, ours: number, lmdb: number): PeerMeasure {
  const summary = (median: number) => ({ median, min: median * 0.9, max: median * 1.1, spread: 0.2, rounds: [median] });
  return {
    unit,
    subjects: { ours: summary(ours), lmdb: summary(lmdb) },
    ratios: { vsLmdb: ours / lmdb, vsBestPeer: ours / lmdb },
    ratioRounds: { vsLmdb: [ours / lmdb], vsBestPeer: [ours / lmdb] },
  };
}

const sideBySide = {
  durableInserts1Writer: measure('inserts/s', 3001, 2002),
  durableInserts64Writers: measure('inserts/s', 60_003, 90_004),
  reads: {
    getsById: measure('gets/s', 7_000_005, 500_006),
    indexedEqualityQuery: measure('queries/s', 90_007, 40_008),
    indexedEqualityQueryUncached: measure('queries/s', 50_009, 40_010),
  },
  diskSync: { syncWriteP50Us: 97, ceiling64WritersPerSecond: 659_794 },
};

const results: EmbeddedResults = {
  durableInserts1Writer: { writers: 1, insertsPerSecond: 3001, p50Ms: 0.3, p99Ms: 2 },
  durableInserts64Writers: { writers: 64, insertsPerSecond: 60_003, p50Ms: 1, p99Ms: 5 },
  reads: {
    documents: 100_000,
    getsPerSecond: 7_000_005,
    indexedEqualityQuery: { p50Us: 20, p99Us: 50 },
    indexedRangeQueryLimit100: { p50Us: 180, p99Us: 400 },
  },
  recovery: { entries: 100_000, reopenSeconds: 1 },
  snapshotInstall: { documents: 100_000, restoreSeconds: 0.4, reopenSeconds: 0.5, heapBytesPerDocument: 284 },
  sideBySide,
};

test('each side-by-side measure is drawn with the peers that ran, and the ratios together', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'embedded-report-'));
  try {
    const path = join(dir, 'report.html');
    await writeEmbeddedReport(path, 'test', results, results);
    const html = await readFile(path, 'utf8');
    for (const title of [
      'durable inserts, 1 writer: ours against the peers',
      'durable inserts, 64 writers: ours against the peers',
      'gets by _id: ours against the peers',
      'indexed equality query (filter cached): ours against the peers',
      'indexed equality query (a new value each time): ours against the peers',
      'Ours / peer per measure',
    ]) {
      assert.ok(html.includes(title), `a chart titled "${title}"`);
    }
    assert.ok(html.includes('the restored store holds 284 bytes of heap per document'), 'the heap a restored store holds, in its chart');
    // A bar per store that ran, with its median; SQLite was skipped: no bar of its own.
    assert.match(html, /<title>median ours \(45,008–55,010\): 50k queries\/s<\/title>/);
    assert.match(html, /<title>median lmdb-js \(36,009–44,011\): 40k queries\/s<\/title>/);
    assert.doesNotMatch(html, /<title>median SQLite/);
    assert.match(html, /<title>ours \/ lmdb-js gets: 14\.0 ×<\/title>/);
    // Beside the 64 writers only, the most the disk allows them.
    assert.match(html, /<title>median the disk's limit \(64 \/ one durable write of 97 µs\): 660k inserts\/s<\/title>/);
    const charts = html.split('<svg');
    const chartOf = (title: string): string => charts.find((c) => c.includes(title))!;
    assert.match(chartOf('durable inserts, 64 writers: ours'), /the disk's limit/);
    assert.doesNotMatch(chartOf('durable inserts, 1 writer: ours'), /the disk's limit/);
    assert.doesNotMatch(html, /<title>ours \/ SQLite [^<]*: \d/, 'no ratio drawn for a peer that did not run');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the guard compares the uncached equality query against the peers', () => {
  const guard = embeddedGuard(sideBySide, {
    recovery: { reopenSeconds: 1 },
    snapshotInstall: { restoreSeconds: 0.4, reopenSeconds: 0.5 },
    memoryPerDocument: { heapPerJsonByte: 1.6 },
    reads: { indexedRangeQueryLimit100: { p50Us: 180 } },
  });
  assert.ok(Math.abs(guard['indexedEqualityQueryUncached.vsLmdb']!.value - 50_009 / 40_010) < 1e-9);
  assert.equal(guard['indexedEqualityQueryUncached.vsSqlite'], undefined);
  // Measured since the index entries became pairs: guarded when the run has it.
  assert.equal(guard['snapshotInstall.heapBytesPerDocument'], undefined);
  const withHeap = embeddedGuard(sideBySide, {
    recovery: { reopenSeconds: 1 },
    snapshotInstall: { restoreSeconds: 0.4, reopenSeconds: 0.5, heapBytesPerDocument: 284 },
    memoryPerDocument: { heapPerJsonByte: 1.6 },
    reads: { indexedRangeQueryLimit100: { p50Us: 180 } },
  });
  assert.deepEqual(withHeap['snapshotInstall.heapBytesPerDocument'], { value: 284, better: 'lower', kind: 'absolute' });
});
