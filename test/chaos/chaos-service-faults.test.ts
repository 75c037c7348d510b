// `collection-store chaos` with faults of several nodes, on a real local cluster of three
// processes: rolling_restart (each node stopped and restarted in turn, the leader last),
// majority_loss (two of three killed: the service must stop, then come back once they are
// restarted, and the report must show both) and random (a mix the seed fixes). Each report
// is checked against what the run did.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeSchedule } from '../../src/chaos/scenarios.ts';
import { assertConsistent, chaosRunner, leaderAt, newLeaderAfter, okWritesBetween, RUN_TIMEOUT_MS } from './chaos-run.ts';

const chaos = chaosRunner();
const CLIENTS = ['--load-test-concurrent', '6'];
/** Writes in flight when the majority dies may still be acknowledged (committed just before); after this, none can be, in ms. */
const IN_FLIGHT_SETTLE_MS = 300;

test(
  'rolling_restart: every node restarted in turn, leader last; leadership moves and writes go on',
  { timeout: RUN_TIMEOUT_MS + 10_000 },
  async () => {
    const run = await chaos([
      '--scenario',
      'rolling_restart',
      '--duration',
      '4s',
      '--interval',
      '3s',
      '--fault-duration',
      '300ms',
      '--seed',
      '31',
      ...CLIENTS,
    ]);
    assertConsistent(run);
    const { report } = run;
    assert.equal(report.faults.length, 1);
    const fault = report.faults[0]!;
    const match = /^rolling restart of (\d), (\d), (\d)$/.exec(fault.description);
    assert.ok(match !== null, fault.description);
    const order = match.slice(1).map(Number);
    assert.deepEqual([...order].sort(), [1, 2, 3], 'every node restarted once');
    const before = leaderAt(report, fault.startMs);
    assert.equal(order[2], before?.leader, 'the leader was restarted last');
    const after = newLeaderAfter(report, fault.startMs, before);
    assert.ok(after !== undefined && after.timeMs <= fault.endMs + 1000, 'restarting the leader moved leadership to another node');
    assert.ok(okWritesBetween(run, fault.startMs, fault.endMs) > 0, 'writes went on while one node at a time was down');
  },
);

test(
  'majority_loss: with two of three down the service stops; it comes back after their restart, and the report shows both',
  { timeout: RUN_TIMEOUT_MS + 10_000 },
  async () => {
    const run = await chaos([
      '--scenario',
      'majority-loss',
      // Two node processes restart after the fault (under CI's load): room after the heal for
      // the recovery to be seen (CI saw none, once within a 4 s run and once within a 6 s run on
      // a slow day). The interval is the whole run, so one fault is planned (with 3 s, a second
      // at 4 s fitted, and CI ran it).
      '--duration',
      '9s',
      '--interval',
      '9s',
      '--fault-duration',
      '1500ms',
      '--seed',
      '32',
      ...CLIENTS,
    ]);
    assertConsistent(run);
    const { report } = run;
    assert.equal(report.schedule.length, 1, 'one fault planned');
    assert.equal(report.faults.length, 1);
    const fault = report.faults[0]!;
    assert.match(fault.description, /^nodes \d, \d killed \(majority\)$/);
    assert.ok(fault.endMs - fault.inPlaceMs >= 1500, 'the majority stayed down for --fault-duration');
    assert.ok(fault.inPlaceMs >= fault.startMs);
    // The outage: no write acknowledged while only one node was up.
    assert.equal(okWritesBetween(run, fault.inPlaceMs + IN_FLIGHT_SETTLE_MS, fault.inPlaceMs + 1500), 0, 'no write succeeded without a majority');
    assert.ok(fault.interruptionMs >= 1500 - IN_FLIGHT_SETTLE_MS, `the report shows the outage (${fault.interruptionMs} ms)`);
    assert.ok(report.maxInterruptionMs >= fault.interruptionMs);
    assert.ok(
      report.writeWindowsPercent < 100 - (100 * 1200) / report.durationMs,
      `availability dipped (${report.writeWindowsPercent} % of windows)`,
    );
    assert.ok(report.availabilityPercent < 100);
    // The recovery: writes again once the majority was back.
    assert.ok(fault.recoveryMs !== null && fault.recoveryMs >= 1500 - IN_FLIGHT_SETTLE_MS, `the report shows the recovery (${fault.recoveryMs} ms)`);
    assert.ok(okWritesBetween(run, fault.endMs, report.durationMs) > 0, 'writes succeeded after the recovery');
    assert.match(
      run.stdout,
      /majority_loss +nodes \d, \d killed \(majority\); healed after \d+ ms; recovery [\d.]+ ms; longest interruption [\d.]+ ms/,
    );
  },
);

test('random: a mix of faults, the schedule the seed fixes, all of it checked', { timeout: RUN_TIMEOUT_MS + 10_000 }, async () => {
  const timing = { durationMs: 6000, intervalMs: 1800, holdMs: 500 };
  const run = await chaos([
    '--scenario',
    'random',
    '--duration',
    '6s',
    '--interval',
    '1800ms',
    '--fault-duration',
    '500ms',
    '--seed',
    '12',
    ...CLIENTS,
  ]);
  assertConsistent(run);
  const { report } = run;
  const planned = makeSchedule({ scenario: 'random', ...timing, seed: 12 }).map((s) => ({ kind: s.kind, atMs: s.atMs }));
  assert.deepEqual(report.schedule, planned, 'the report carries the schedule seed 12 gives');
  assert.ok(new Set(planned.map((s) => s.kind)).size >= 2, 'seed 12 mixes kinds');
  assert.equal(report.faults.length + report.skippedFaults, planned.length);
  // The faults ran in the planned order, each at (or, after a slow one, later than) its time.
  let next = 0;
  for (const fault of report.faults) {
    while (next < planned.length && planned[next]!.kind !== fault.kind) next += 1;
    assert.ok(next < planned.length, `${fault.kind} at ${fault.startMs} ms was planned`);
    assert.ok(fault.startMs >= planned[next]!.atMs - 50, `${fault.kind} started no earlier than planned`);
    next += 1;
  }
  assert.ok(new Set(report.faults.map((f) => f.kind)).size >= 2, `a mix ran: ${report.faults.map((f) => f.kind).join(', ')}`);
  assert.ok(report.leaderChanges >= 1, 'leader faults moved the leadership');
});
