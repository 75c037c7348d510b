// `collection-store chaos` end to end: a real local cluster of three processes, real faults
// (SIGKILL of the leader; a partition through the fault-injection endpoint), and the report
// checked against what happened. The last test plants a bug in every node (reads answered
// locally while the client asked for linearizable ones) and the command must say so.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chaosRunner, checkJepsenShape, leaderAt, okWritesBetween, RUN_TIMEOUT_MS } from './chaos-run.ts';

const chaos = chaosRunner();

test('leader_crash: the leader is killed, another is elected, the history is linearizable', { timeout: RUN_TIMEOUT_MS + 10_000 }, async () => {
  const run = await chaos([
    '--scenario',
    'leader-crash',
    '--duration',
    '5s',
    '--interval',
    '3s',
    '--seed',
    '11',
    // Each client has one operation in flight, at a node picked at random: at the kill, none is
    // at the leader with probability (2/3)^clients, and then nothing is retried (CI saw it with
    // 6 clients: 9 % of runs). 16 make it 0.15 %.
    '--load-test-concurrent',
    '16',
    '--expect-availability',
    '1',
  ]);
  assert.equal(run.code, 0, `exit 0 expected\n${run.stdout}\n${run.stderr}`);
  const { report } = run;
  assert.equal(report.scenario, 'leader_crash');
  assert.equal(report.faults.length, 1);
  const fault = report.faults[0]!;
  const victim = Number(/^node (\d) \(leader\) killed$/.exec(fault.description)?.[1]);
  const before = report.leaders.filter((l) => l.timeMs <= fault.startMs).at(-1);
  assert.equal(before?.leader, victim, 'the node killed was the leader at the time');
  const after = report.leaders.find((l) => l.timeMs > fault.startMs);
  assert.ok(after !== undefined && after.leader !== victim && after.term > before!.term, 'a new leader was elected in a later term');
  assert.ok(report.leaderChanges >= 1);
  assert.ok(fault.recoveryMs !== null && fault.recoveryMs > 0, 'writes resumed after the crash');
  assert.ok(report.operations.ok > 50, `operations succeeded (${report.operations.ok})`);
  assert.equal(report.operations.attempted, report.operations.ok + report.operations.failed + report.operations.indeterminate);
  assert.equal(report.consistency.verdict, 'linearizable');
  assert.equal(report.consistency.lostAcknowledgedWrites, 0);
  assert.equal(report.consistency.duplicateApplies, 0);
  // Operations in flight at the killed leader (or sent to it before it was known down) are
  // retried at another node, writes under their Idempotency-Key: applied once (above).
  assert.ok(report.operations.retriedAttempts > 0, `retried attempts: ${report.operations.retriedAttempts}`);
  assert.ok(report.consistency.opsChecked > 50);
  assert.deepEqual(
    report.expectations.map((e) => [e.name, e.met]),
    [['availability', true]],
  );
  checkJepsenShape(run.events);
  assert.match(run.stdout, /\[chaos\] \d+\.\ds\/5s {2}\d+ ops\/s {2}fault: .* {2}leader: /, 'a progress line');
  assert.match(run.stdout, /consistency {5}linearizable/);
  assert.match(run.html, /<svg[^>]*aria-label="Throughput/);
  assert.match(run.html, /<rect[^>]*><title>leader_crash: node \d \(leader\) killed<\/title>/, 'the fault is marked on the chart');
  assert.doesNotMatch(run.html, /<script|https?:\/\/(?!www\.w3\.org)/, 'self-contained: no script, no CDN');
});

test(
  "partition of 5 nodes, 2 | 3 (the seed's split-brain test): the majority side leads and writes, the history stays linearizable; a missed --expect-max-interruption exits 1",
  { timeout: RUN_TIMEOUT_MS + 10_000 },
  async () => {
    const run = await chaos([
      '--nodes',
      '5',
      '--scenario',
      'partition',
      // Each client sends each op to a node picked at random, and one sent to the minority side
      // waits out its --request-timeout: the partition outlasts a few of them (and an
      // election), so the clients reach the majority side while it holds (at 2 s apart and
      // a 2 s timeout, CI saw every client stuck on the minority for the whole partition).
      '--duration',
      '7s',
      '--interval',
      '5s',
      '--fault-duration',
      '4000ms',
      '--request-timeout',
      '1s',
      '--seed',
      '7',
      '--load-test-concurrent',
      '6',
      '--expect-max-interruption',
      '1ms',
    ]);
    const { report } = run;
    assert.equal(report.nodes, 5);
    assert.equal(report.faults.length, 1, run.stdout);
    const fault = report.faults[0]!;
    const sides = /^partition (\d),(\d) \| (\d),(\d),(\d)$/.exec(fault.description);
    assert.ok(sides !== null, fault.description);
    const minority = [Number(sides[1]), Number(sides[2])];
    const majority = [Number(sides[3]), Number(sides[4]), Number(sides[5])];
    assert.deepEqual([...minority, ...majority].sort(), [1, 2, 3, 4, 5]);
    assert.ok(fault.endMs - fault.startMs >= 4000, 'the partition held for --fault-duration');
    // Writes were acknowledged while the sides were apart: only the majority can commit them, so
    // by the fault's end the leader the report saw is on the majority side.
    const writesApart = okWritesBetween(run, fault.inPlaceMs, fault.endMs);
    assert.ok(writesApart > 0, `writes acknowledged during the partition (${fault.inPlaceMs}..${fault.endMs} ms)\n${run.stdout}`);
    const leading = leaderAt(report, fault.endMs);
    assert.ok(
      leading !== undefined && majority.includes(leading.leader),
      `leader at the heal: ${JSON.stringify(leading)}, majority ${majority.join(',')}`,
    );
    assert.equal(report.consistency.verdict, 'linearizable', run.stdout);
    assert.equal(report.consistency.lostAcknowledgedWrites, 0);
    // Consistent, but the expectation given is missed (no run goes 1 ms without a write):
    // exit 1, and the report says which.
    assert.ok(report.maxInterruptionMs > 1);
    assert.deepEqual(
      report.expectations.map((e) => [e.name, e.met]),
      [['max interruption', false]],
    );
    assert.equal(run.code, 1, 'a missed expectation exits 1');
    assert.match(run.stdout, /expect max interruption: <= 1 ms, got [\d.]+ ms: MISSED/);
    checkJepsenShape(run.events);
  },
);

test(
  'a planted bug (stale reads claimed linearizable) is reported as a consistency failure, exit 1',
  { timeout: RUN_TIMEOUT_MS + 10_000 },
  async () => {
    const run = await chaos(
      [
        '--scenario',
        'partition',
        '--duration',
        '6s',
        '--interval',
        '2500ms',
        '--fault-duration',
        '1500ms',
        '--seed',
        '3',
        '--load-test-concurrent',
        '8',
      ],
      { ...process.env, COLLECTION_STORE_PLANTED_BUG: 'stale-reads' },
    );
    assert.equal(run.report.consistency.verdict, 'not linearizable', run.stdout);
    assert.match(run.report.consistency.failure ?? '', /^key k\d: no linearization of \d+ ops/);
    assert.equal(run.report.expectations.length, 0, 'no expectation given: the failure is the verdict alone');
    assert.equal(run.code, 1);
    assert.match(run.stdout, /result {10}FAIL/);
    checkJepsenShape(run.events);
  },
);
