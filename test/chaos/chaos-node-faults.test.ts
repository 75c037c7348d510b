// `collection-store chaos` with faults of one node, on a real local cluster of three
// processes: follower_crash (SIGKILL of a follower: the majority keeps serving) and pause
// (SIGSTOP of the leader beyond the election timeout, then SIGCONT). leader_isolation runs
// in chaos-cluster-mode.test.ts (the same endpoint calls, against running nodes). Each report is checked
// against what the run did: who led when, who was hit, writes during the fault, and a
// linearizable verdict from real checking.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertConsistent, chaosRunner, leaderAt, newLeaderAfter, okWritesBetween, RUN_TIMEOUT_MS } from './chaos-run.ts';

const chaos = chaosRunner();
/** The local nodes' election timeout (the command's default), in ms. */
const ELECTION_TIMEOUT_MS = 150;
const SHORT = ['--duration', '4s', '--interval', '3s', '--load-test-concurrent', '6'];

test(
  'follower_crash: a follower is killed and restarted; the leader stays and writes go on meanwhile',
  { timeout: RUN_TIMEOUT_MS + 10_000 },
  async () => {
    const run = await chaos(['--scenario', 'follower-crash', ...SHORT, '--seed', '21']);
    assertConsistent(run);
    const { report } = run;
    assert.equal(report.scenario, 'follower_crash');
    assert.equal(report.faults.length, 1);
    const fault = report.faults[0]!;
    const victim = Number(/^node (\d) \(follower\) killed$/.exec(fault.description)?.[1]);
    const leader = leaderAt(report, fault.startMs);
    assert.ok(leader !== undefined && leader.leader !== victim, `the node killed (${victim}) was not the leader (${leader?.leader})`);
    assert.ok(fault.endMs - fault.startMs >= 1000, 'it stayed down for --fault-duration');
    assert.ok(okWritesBetween(run, fault.startMs, fault.endMs) > 0, 'the two others kept acknowledging writes while it was down');
    assert.ok(fault.recoveryMs !== null && fault.recoveryMs < fault.endMs - fault.startMs, 'writes resumed before the follower came back');
  },
);

test('pause: the leader is frozen (SIGSTOP) beyond the election timeout, replaced, then resumed', { timeout: RUN_TIMEOUT_MS + 10_000 }, async () => {
  const run = await chaos(['--scenario', 'pause', ...SHORT, '--fault-duration', '500ms', '--seed', '23']);
  assertConsistent(run);
  const { report } = run;
  assert.equal(report.faults.length, 1);
  const fault = report.faults[0]!;
  const match = /^node (\d) \(leader\) paused (\d+) ms$/.exec(fault.description);
  assert.ok(match !== null, fault.description);
  const paused = Number(match[1]);
  assert.equal(Number(match[2]), 4 * ELECTION_TIMEOUT_MS, 'a pause lasts 4 election timeouts when --fault-duration is shorter');
  assert.ok(fault.endMs - fault.startMs >= 4 * ELECTION_TIMEOUT_MS);
  const before = leaderAt(report, fault.startMs);
  assert.equal(before?.leader, paused, 'the node paused was the leader at the time');
  const after = newLeaderAfter(report, fault.startMs, before);
  assert.ok(after !== undefined, 'the others elected a new leader in a later term');
  assert.ok(report.leaderChanges >= 1);
  assert.ok(fault.recoveryMs !== null, 'writes resumed');
});
