// The reads warm-up of the cluster benchmark (bench/fixtures/workloads.ts warmUpReads): it finds
// the leader first, then keeps every client reading linearizably across all nodes for the time
// asked, so the measured read runs start on a warm read path (docs/benchmarks.md).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { warmUpReads, type KvTarget, type ReadMode, type ReadPlacement } from '../../bench/fixtures/workloads.ts';

interface Recorded {
  readonly calls: string[];
  readonly reads: Array<{ client: number; placement: ReadPlacement; mode: ReadMode }>;
}

function recordingTarget(): { target: KvTarget; seen: Recorded } {
  const seen: Recorded = { calls: [], reads: [] };
  const target: KvTarget = {
    name: 'fake',
    async write(): Promise<void> {
      seen.calls.push('write');
    },
    async read(client, _n, placement, mode): Promise<void> {
      if (seen.calls[seen.calls.length - 1] !== 'read') seen.calls.push('read');
      seen.reads.push({ client, placement, mode });
      await new Promise((resolve) => setTimeout(resolve, 2));
    },
    async preload(): Promise<void> {
      seen.calls.push('preload');
    },
    async refreshLeader(): Promise<number> {
      seen.calls.push('refreshLeader');
      return 0;
    },
  };
  return { target, seen };
}

describe('warmUpReads', () => {
  test('finds the leader, then reads from every client, spread and linearizable, for the time asked', async () => {
    const { target, seen } = recordingTarget();
    const started = performance.now();
    await warmUpReads(target, 4, 0.1);
    const elapsedMs = performance.now() - started;
    assert.deepEqual(seen.calls, ['refreshLeader', 'read']);
    assert.ok(elapsedMs >= 100, `warmed up for ${elapsedMs} ms, asked for 100`);
    assert.deepEqual([...new Set(seen.reads.map((r) => r.client))].sort(), [0, 1, 2, 3]);
    assert.ok(
      seen.reads.every((r) => r.placement === 'spread' && r.mode === 'linearizable'),
      'every warm-up read is spread over the nodes and linearizable',
    );
    // 4 clients for 100 ms of 2 ms reads: many reads each, not one.
    assert.ok(seen.reads.length >= 4 * 10, `${seen.reads.length} reads`);
  });
});
