// Alternating rounds (bench/fixtures/alternate.ts): the order flips every round, each system's
// figures are medians of its own rounds, and the per-round ratio pairs rounds measured back to back.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
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

  test(
    'counts the CPU each system spends per write (servers and load generator), medians of rounds',
    { skip: !existsSync('/proc/self/stat') && 'needs /proc' },
    async () => {
      // Both "servers" are this process: each write burns CPU here, the peer's four times as much.
      const spinning = (name: string, spinMs: number): KvTarget => ({
        ...fakeTarget(name, 0, []),
        async write(): Promise<void> {
          // On the CPU clock: a busy CI box that takes the core away meanwhile changes nothing.
          const cpuUs = (): number => {
            const u = process.cpuUsage();
            return u.user + u.system;
          };
          const until = cpuUs() + spinMs * 1000;
          while (cpuUs() < until);
          await new Promise((resolve) => setImmediate(resolve));
        },
      });
      const self = (): number[] => [process.pid];
      const [result] = await alternateWrites(spinning('ours', 0.5), spinning('peer', 2), [2], 0.3, 3, 0.05, { ours: self, peer: self });
      assert.ok(result?.cpu, JSON.stringify(result));
      const cpu = result.cpu;
      // 0.5 ms against 2 ms of CPU per write (the /proc clock counts in 10 ms ticks: loose bounds).
      assert.ok(cpu.oursServersUsPerWrite > 250 && cpu.oursServersUsPerWrite < 2_000, JSON.stringify(cpu));
      assert.ok(cpu.peerServersUsPerWrite > 1_200 && cpu.peerServersUsPerWrite < 5_000, JSON.stringify(cpu));
      assert.ok(cpu.serversPeerOverOurs > 2, JSON.stringify(cpu));
      assert.ok(cpu.oursClientUsPerWrite > 250 && cpu.peerClientUsPerWrite > cpu.oursClientUsPerWrite, JSON.stringify(cpu));
    },
  );

  test('no CPU figures when a server process cannot be read', { skip: !existsSync('/proc/self/stat') && 'needs /proc' }, async () => {
    const gone = (): number[] => [2 ** 22 + 12_345]; // above Linux's pid_max default
    const [result] = await alternateWrites(fakeTarget('a', 1, []), fakeTarget('b', 1, []), [1], 0.02, 1, 0.01, { ours: gone, peer: gone });
    assert.equal(result?.cpu, null);
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
