// The loop-stall probe tells a node's own work holding its event loop (CPU busy) from the
// loop waiting while the CPU is idle (a core not given, a stopped process).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  LOOP_STALLS_KEPT_MAX,
  LOOP_STALL_RECORD_MS_MIN,
  LOOP_STALL_WARN_MS,
  LoopStalls,
  threadClocks,
  type LoopClocks,
  type LoopStall,
} from '../../src/node/loop-stalls.ts';

/** Clocks a test moves by hand. */
class ManualClocks implements LoopClocks {
  wall = 1000;
  cpu = 50;
  active = 20;
  coreWait = 5;
  wallMs(): number {
    return this.wall;
  }
  cpuMs(): number {
    return this.cpu;
  }
  activeMs(): number {
    return this.active;
  }
  coreWaitMs(): number {
    return this.coreWait;
  }
  /** `activeMs`: the loop's active time, all of the wall time unless said; `coreWaitMs`: the
   * loop thread's wait for a core, none unless said. */
  advance(wallMs: number, cpuMs: number, activeMs: number = wallMs, coreWaitMs = 0): void {
    this.wall += wallMs;
    this.cpu += cpuMs;
    this.active += activeMs;
    this.coreWait += coreWaitMs;
  }
}

describe('LoopStalls', () => {
  test('an interval is busy for the CPU time used in it, never more than its wall time', () => {
    const clocks = new ManualClocks();
    const stalls = new LoopStalls(clocks);
    clocks.advance(10, 2);
    stalls.sample();
    clocks.advance(120, 110); // our work held the loop
    stalls.sample();
    clocks.advance(160, 20); // the loop waited, the CPU was idle
    stalls.sample();
    clocks.advance(30, 55); // other threads (GC) count too, capped at the wall time
    stalls.sample();
    clocks.advance(90, 90, 8); // other threads busy while the loop waited for I/O
    stalls.sample();
    // The loop active for all of 140 ms and the process's threads busy for 130, but the
    // loop's thread waited 90 ms for a core (a shared box): the loop's own work is at most 50.
    clocks.advance(140, 130, 140, 90);
    stalls.sample();
    const status = stalls.status();
    assert.equal(status.wallMsMax, 160);
    assert.equal(status.busyMsMax, 110);
    assert.deepEqual(
      status.recent.map((s) => [s.wallMs, s.busyMs, s.coreWaitMs]),
      [
        [120, 110, 0],
        [160, 20, 0],
        [30, 30, 0],
        [90, 8, 0],
        [140, 50, 90],
      ],
      `intervals shorter than ${LOOP_STALL_RECORD_MS_MIN} ms are not listed`,
    );
  });

  test('a stall of LOOP_STALL_WARN_MS or more is told to the listener, with its wait for a core', () => {
    const clocks = new ManualClocks();
    const told: LoopStall[] = [];
    const stalls = new LoopStalls(clocks, (stall) => told.push(stall));
    clocks.advance(LOOP_STALL_WARN_MS - 1, 5);
    stalls.sample();
    clocks.advance(LOOP_STALL_WARN_MS, 10, LOOP_STALL_WARN_MS, 70);
    stalls.sample();
    clocks.advance(10, 1);
    stalls.sample();
    assert.equal(stalls.status().recent.length, 2, 'both long intervals are listed');
    assert.deepEqual(
      told.map((s) => [s.wallMs, s.busyMs, s.coreWaitMs]),
      [[LOOP_STALL_WARN_MS, 10, 70]],
    );
  });

  test('the recent list keeps the newest stalls, at most LOOP_STALLS_KEPT_MAX', () => {
    const clocks = new ManualClocks();
    const stalls = new LoopStalls(clocks);
    for (let i = 0; i < LOOP_STALLS_KEPT_MAX + 10; i++) {
      clocks.advance(LOOP_STALL_RECORD_MS_MIN + i, 1);
      stalls.sample();
    }
    const recent = stalls.status().recent;
    assert.equal(recent.length, LOOP_STALLS_KEPT_MAX);
    assert.equal(recent[0]!.wallMs, LOOP_STALL_RECORD_MS_MIN + 10);
    assert.equal(recent.at(-1)!.wallMs, LOOP_STALL_RECORD_MS_MIN + LOOP_STALLS_KEPT_MAX + 9);
  });

  test('with the process clocks: a busy loop counts as busy, a blocked idle thread does not', async () => {
    const stalls = new LoopStalls();
    stalls.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 30));
      // Blocked without using the CPU, as when the process waits for a core.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 150);
      await new Promise((resolve) => setTimeout(resolve, 30));
      const afterWait = stalls.status();
      assert.ok(afterWait.wallMsMax >= 140, `the probe saw the 150 ms block: ${JSON.stringify(afterWait)}`);
      assert.ok(afterWait.busyMsMax < 100, `a blocked idle thread is not busy: ${JSON.stringify(afterWait)}`);
      // Work of ours holding the loop: 150 ms of CPU (a shared box may stretch the wall time).
      const cpuMs = (): number => process.cpuUsage().user / 1000;
      const until = cpuMs() + 150;
      while (cpuMs() < until) Math.sqrt(Math.random());
      await new Promise((resolve) => setTimeout(resolve, 30));
      const afterWork = stalls.status();
      assert.ok(afterWork.busyMsMax >= 140, `150 ms of work is busy: ${JSON.stringify(afterWork)}`);
    } finally {
      stalls.stop();
    }
  });

  test('on Linux, the loop thread’s wait for a core is read: threads that crowd the cores make it grow, and it is not busy time', async (t) => {
    const clocks = threadClocks();
    const waitedBefore = clocks.coreWaitMs();
    if (process.platform !== 'linux') {
      assert.equal(waitedBefore, 0, 'no wait for a core is known off Linux');
      t.skip('the wait for a core is read from /proc (Linux)');
      return;
    }
    // More spinning threads than cores, and this thread spinning too: the scheduler makes
    // each wait its turn.
    const spinners = Array.from(
      { length: availableParallelism() + 1 },
      () => new Worker('const end = Date.now() + 1500; while (Date.now() < end) Math.sqrt(Math.random());', { eval: true }),
    );
    try {
      await Promise.all(spinners.map((w) => new Promise((resolve) => w.once('online', resolve))));
      const stalls = new LoopStalls(clocks);
      stalls.start('caller');
      // Read inside the probe's interval, so this wait is part of the one the probe subtracts:
      // read outside it, a preemption between the two reads (a time slice: ms, not µs, among
      // spinning threads; CI saw 6 ms) would be counted here and not there.
      const waitedAtStart = clocks.coreWaitMs();
      const wallStart = clocks.wallMs();
      while (clocks.wallMs() - wallStart < 400) Math.sqrt(Math.random());
      const waited = clocks.coreWaitMs() - waitedAtStart;
      stalls.sample();
      assert.ok(waited > 20, `the loop's thread waited ${waited} ms for a core among ${spinners.length} spinning threads`);
      const { recent } = stalls.status();
      const stall = recent.at(-1);
      assert.ok(stall !== undefined && stall.wallMs >= 400, JSON.stringify(recent));
      // Busy is at most the interval less the wait in it; the test's wait lies within the
      // probe's, so the bound holds up to the rounding to 0.1 ms of both figures. Without the
      // wait subtracted, busy would be the whole interval (the loop spun all of it).
      assert.ok(stall.busyMs <= stall.wallMs - waited + 0.1, `the wait for a core is not busy: ${JSON.stringify(stall)}, waited ${waited} ms`);
    } finally {
      await Promise.all(spinners.map((w) => w.terminate()));
    }
  });
});
