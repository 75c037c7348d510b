// Alternating rounds (bench/fixtures/alternate.ts): the order flips every round, each system's
// figures are medians of its own rounds, and the per-round ratio pairs rounds measured back to back.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { alternateWrites, medianRun } from '../../bench/fixtures/alternate.ts';
import { medianOf } from '../../bench/util.ts';
import type { LoadResult } from '../../bench/fixtures/load.ts';
import type { KvTarget } from '../../bench/fixtures/workloads.ts';

/** A target whose writes take `delayMs`, recording which system wrote when. */
function fakeTarget(name: string, delayMs: number, log: string[]): KvTarget {
  return {
    name,
    async write(): Promise<void> {
      if (log[log.length - 1] !== name) log.push(name);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    },
    async read(): Promise<void> {},
    async preload(): Promise<void> {},
    async refreshLeader(): Promise<number> {
      return 0;
    },
  };
}

describe('alternateWrites', () => {
  test('flips the order each round; the faster system gets the higher median and a ratio above 1', async () => {
    const log: string[] = [];
    const ours = fakeTarget('ours', 2, log);
    const peer = fakeTarget('peer', 8, log);
    const [result] = await alternateWrites(ours, peer, [1], 0.15, 3, 0.1);
    assert.ok(result);
    // warm-ups (ours, peer), then rounds: ours peer | peer ours | ours peer
    assert.deepEqual(log, ['ours', 'peer', 'ours', 'peer', 'ours', 'peer']);
    assert.equal(result.rounds, 3);
    assert.equal(result.oursByRound.length, 3);
    assert.ok(result.ours.opsPerSecond > result.peer.opsPerSecond * 1.5, JSON.stringify(result));
    assert.ok(result.throughputRatioMedian > 1.5, JSON.stringify(result));
    assert.equal(result.throughputRatioByRound.length, 3);
  });

  test('refuses zero rounds', async () => {
    const log: string[] = [];
    await assert.rejects(alternateWrites(fakeTarget('a', 1, log), fakeTarget('b', 1, log), [1], 0.01, 0), /positive integer/);
  });
});

describe('medianRun', () => {
  const run = (opsPerSecond: number, p99Ms: number): LoadResult => ({
    clients: 1,
    ops: opsPerSecond,
    errors: 0,
    seconds: 1,
    opsPerSecond,
    p50Ms: 1,
    p99Ms,
    load1: 1,
  });
  test('takes each figure’s median and sums the counts', () => {
    const m = medianRun([run(100, 9), run(300, 1), run(200, 5)]);
    assert.equal(m.opsPerSecond, 200);
    assert.equal(m.p99Ms, 5);
    assert.equal(m.ops, 600);
    assert.equal(medianOf([4, 1, 3, 2]), 2.5);
    assert.throws(() => medianRun([]), /no runs/);
  });
});
