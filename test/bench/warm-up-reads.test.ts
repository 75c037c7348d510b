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
    // The time asked for, not the 6 s default.
    assert.ok(elapsedMs >= 100 && elapsedMs < 3_000, `warmed up for ${elapsedMs} ms, asked for 100`);
    for (const client of [0, 1, 2, 3]) {
      const reads = seen.reads.filter((r) => r.client === client).length;
      assert.ok(reads >= 2, `client ${client} read ${reads} times: each keeps reading until the time is up`);
    }
    assert.ok(
      seen.reads.every((r) => r.placement === 'spread' && r.mode === 'linearizable'),
      'every warm-up read is spread over the nodes and linearizable',
    );
  });
});
