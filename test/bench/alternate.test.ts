// Alternating rounds (bench/fixtures/alternate.ts): the order flips every round, each system's
// figures are medians of its own rounds, and the per-round ratio pairs rounds measured back to back.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
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

  // A target whose writes burn `spinMs` of CPU in this process, on the CPU clock: a busy CI box
  // that takes the core away meanwhile changes nothing.
  const spinning = (name: string, spinMs: number): KvTarget => ({
    ...fakeTarget(name, 0, []),
    async write(): Promise<void> {
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
  const needsProc = { skip: !existsSync('/proc/self/stat') && 'needs /proc' };

  test('counts the CPU each system spends per write (servers and load generator), paired by round', needsProc, async () => {
    // Both "servers" are this process: the peer's writes burn four times as much.
    const [result] = await alternateWrites(spinning('ours', 0.5), spinning('peer', 2), [2], 0.3, 3, 0.05, { ours: self, peer: self });
    assert.ok(result?.cpu, JSON.stringify(result));
    const cpu = result.cpu;
    // 0.5 ms against 2 ms of CPU per write (the /proc clock counts in 10 ms ticks: loose bounds).
    assert.ok(cpu.oursServersUsPerWrite > 250 && cpu.oursServersUsPerWrite < 2_000, JSON.stringify(cpu));
    assert.ok(cpu.peerServersUsPerWrite > 1_200 && cpu.peerServersUsPerWrite < 5_000, JSON.stringify(cpu));
    assert.equal(cpu.serversPeerOverOursByRound.length, 3);
    assert.equal(cpu.oursServersUsByRound.length, 3);
    assert.ok(cpu.serversPeerOverOurs !== null && cpu.serversPeerOverOurs > 2, JSON.stringify(cpu));
    assert.ok(cpu.oursClientUsPerWrite > 250 && cpu.peerClientUsPerWrite > cpu.oursClientUsPerWrite, JSON.stringify(cpu));
  });

  test("each system's rounds count its own processes, not the other's", needsProc, async (t) => {
    // An idle process stands for the other system: whichever side names it must see ~0 µs.
    const idle = spawn('sleep', ['30'], { stdio: 'ignore' });
    t.after(() => idle.kill());
    const idlePid = (): number[] => [idle.pid!];
    const [oursBusy] = await alternateWrites(spinning('ours', 1), spinning('peer', 1), [1], 0.2, 1, 0.02, { ours: self, peer: idlePid });
    assert.ok(oursBusy?.cpu, JSON.stringify(oursBusy));
    assert.ok(oursBusy.cpu.oursServersUsPerWrite > 500 && oursBusy.cpu.peerServersUsPerWrite < 100, JSON.stringify(oursBusy.cpu));
    const [peerBusy] = await alternateWrites(spinning('ours', 1), spinning('peer', 1), [1], 0.2, 1, 0.02, { ours: idlePid, peer: self });
    assert.ok(peerBusy?.cpu, JSON.stringify(peerBusy));
    assert.ok(peerBusy.cpu.peerServersUsPerWrite > 500 && peerBusy.cpu.oursServersUsPerWrite < 100, JSON.stringify(peerBusy.cpu));
    // Ours spent (almost) nothing: no ratio to speak of rather than a huge or zero one.
    assert.ok(peerBusy.cpu.serversPeerOverOurs === null || peerBusy.cpu.serversPeerOverOurs > 5, JSON.stringify(peerBusy.cpu));
  });

  test('no CPU figures when a server process cannot be read, or none is named', needsProc, async () => {
    const gone = (): number[] => [2 ** 22 + 12_345]; // above PID_MAX_LIMIT: no process has it
    const [result] = await alternateWrites(fakeTarget('a', 1, []), fakeTarget('b', 1, []), [1], 0.02, 1, 0.01, { ours: gone, peer: gone });
    assert.equal(result?.cpu, null);
    const [none] = await alternateWrites(fakeTarget('a', 1, []), fakeTarget('b', 1, []), [1], 0.02, 1, 0.01, { ours: () => [], peer: self });
    assert.equal(none?.cpu, null);
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
