// The parts of a chaos run that need no cluster: when the consistency verdict is unknown
// (and what the run's result and exit code then are), and that a seed gives one schedule.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkChaosHistory } from '../../src/chaos/checker.ts';
import { mayRetry, type Outcome } from '../../src/chaos/node-client.ts';
import { ChaosHistory, type ChaosF, type RegisterValue } from '../../src/chaos/history.ts';
import { buildReport, reportText, type ChaosReport } from '../../src/chaos/report.ts';
import { makeSchedule, pickMajority, SCENARIOS, splitMinority } from '../../src/chaos/scenarios.ts';
import { defaultKeys, EXIT_NO_VERDICT } from '../../src/cli/chaos.ts';
import { reportInput } from './report-input.ts';
import { EXIT_FAILURE, EXIT_USAGE } from '../../src/cli/usage-error.ts';

/** A sequential history on key k0: each op completes before the next starts. */
function sequential(ops: readonly [ChaosF, RegisterValue | [RegisterValue, RegisterValue], 'ok' | 'fail' | 'info'][]): ChaosHistory {
  const history = new ChaosHistory();
  for (const [f, value, type] of ops) {
    const op = history.invoke(1, f, 'k0', f === 'read' ? null : value, 1);
    history.complete(op, type, value);
  }
  return history;
}

const GOOD: Parameters<typeof sequential>[0] = [
  ['write', 'a', 'ok'],
  ['read', 'a', 'ok'],
  ['cas', ['a', 'b'], 'ok'],
  ['read', 'b', 'ok'],
];

function report(history: ChaosHistory, budget?: number, unread: string[] = [], expectAvailabilityPercent?: number): ChaosReport {
  return buildReport(
    reportInput(history, {
      generatorLoopDelayMs: { p99: 10.2, max: 12.3 },
      consistency: checkChaosHistory(history, budget, unread),
      ...(expectAvailabilityPercent !== undefined ? { expectAvailabilityPercent } : {}),
    }),
  );
}

test('a checked, consistent history passes', () => {
  const r = report(sequential(GOOD));
  assert.equal(r.consistency.verdict, 'linearizable');
  assert.equal(r.consistency.failure, null);
  assert.equal(r.result, 'pass');
  assert.match(reportText(r), /result {10}PASS/);
});

test('the search bound hit: verdict unknown, result "no verdict", not a pass', () => {
  const r = report(sequential(GOOD), 2);
  assert.equal(r.consistency.verdict, 'unknown');
  assert.match(r.consistency.failure ?? '', /^key k0: search budget of 2 steps exhausted on 4 ops/);
  assert.equal(r.result, 'no verdict');
  assert.match(reportText(r), /no verdict: key k0: search budget/);
  assert.match(reportText(r), /result {10}NO VERDICT/);
});

test('a key whose final read never succeeded: unknown, whatever the search found', () => {
  const r = report(sequential(GOOD), undefined, ['k0', 'k3']);
  assert.equal(r.consistency.verdict, 'unknown');
  assert.match(r.consistency.failure ?? '', /final read of k0, k3 never succeeded/);
  assert.equal(r.result, 'no verdict');
});

test('nothing succeeded: nothing was checked, so no verdict', () => {
  const r = report(
    sequential([
      ['write', 'a', 'fail'],
      ['read', null, 'info'],
    ]),
  );
  assert.equal(r.consistency.verdict, 'unknown');
  assert.match(r.consistency.failure ?? '', /no operation succeeded/);
  assert.equal(r.result, 'no verdict');
});

test('a proven failure outranks an unknown: not linearizable is "fail" even with the bound hit elsewhere', () => {
  const history = sequential([
    ['write', 'a', 'ok'],
    ['write', 'b', 'ok'],
    ['read', 'a', 'ok'],
  ]);
  const r = report(history, undefined, ['k1']);
  assert.equal(r.consistency.verdict, 'not linearizable');
  assert.equal(r.result, 'fail');
});

test('a missed expectation with an unknown verdict fails (a proven miss is a failure)', () => {
  const r = report(sequential([...GOOD, ['write', 'c', 'fail']]), 2, [], 100);
  assert.equal(r.consistency.verdict, 'unknown');
  assert.equal(r.expectations[0]?.met, false);
  assert.equal(r.result, 'fail');
});

test('exit codes: no verdict is neither success, failure nor a usage error', () => {
  assert.ok(![0, EXIT_FAILURE, EXIT_USAGE].includes(EXIT_NO_VERDICT));
});

test('a seed gives one schedule: the same seed the same faults at the same times, another seed another mix', () => {
  const options = { scenario: 'random' as const, durationMs: 120_000, intervalMs: 2000, holdMs: 500 };
  const a = makeSchedule({ ...options, seed: 42 });
  assert.deepEqual(makeSchedule({ ...options, seed: 42 }), a);
  assert.equal(a.length, 60, 'one fault every interval after the warm-up, the last healed before the end');
  assert.deepEqual(
    a.map((s) => s.atMs),
    Array.from({ length: 60 }, (_, i) => 1000 + i * 2000),
  );
  const kinds = new Set(a.map((s) => s.kind));
  assert.deepEqual(
    [...kinds].sort(),
    SCENARIOS.filter((s) => s !== 'random' && s !== 'majority_loss').sort(),
    'random mixes every fault but majority_loss',
  );
  const b = makeSchedule({ ...options, seed: 43 });
  assert.notDeepEqual(
    b.map((s) => s.kind),
    a.map((s) => s.kind),
  );
  // A fixed scenario: every step is that fault.
  assert.ok(makeSchedule({ ...options, scenario: 'pause', seed: 42 }).every((s) => s.kind === 'pause'));
});

test("partition sides and majority_loss victims: 1|2 of 3, 2|3 of 5 (the seed's split-brain test), a majority killed", () => {
  for (const pick of [0, 0.2, 0.5, 0.99]) {
    const three = splitMinority([1, 2, 3], pick);
    assert.equal(three.minority.length, 1);
    assert.deepEqual([...three.minority, ...three.majority].sort(), [1, 2, 3]);
    const five = splitMinority([1, 2, 3, 4, 5], pick);
    assert.deepEqual([five.minority.length, five.majority.length], [2, 3]);
    assert.deepEqual([...five.minority, ...five.majority].sort(), [1, 2, 3, 4, 5]);
    assert.equal(new Set(pickMajority([1, 2, 3], pick)).size, 2);
    assert.equal(new Set(pickMajority([1, 2, 3, 4, 5], pick)).size, 3);
  }
  // pick chooses which nodes: not always the same ones.
  assert.notDeepEqual(splitMinority([1, 2, 3, 4, 5], 0).minority, splitMinority([1, 2, 3, 4, 5], 0.5).minority);
});

test('availability counts a cas refused for a changed value as answered, an unavailable node not; leader changes count new nodes', () => {
  const history = new ChaosHistory();
  const op = (f: ChaosF, value: RegisterValue | [RegisterValue, RegisterValue], type: 'ok' | 'fail', error?: string): void => {
    const invoked = history.invoke(1, f, 'k0', value, 1);
    history.complete(invoked, type, value, error !== undefined ? { error } : {});
  };
  op('write', 'a', 'ok');
  op('cas', ['x', 'b'], 'fail', 'PRECONDITION_FAILED');
  op('write', 'c', 'fail', 'NO_LEADER');
  op('cas', ['a', 'd'], 'fail', 'NO_LEADER');
  const r = buildReport(
    reportInput(history, {
      retriedAttempts: 7,
      generatorLoopDelayMs: { p99: 11.04, max: 48.96 },
      leaders: [
        { timeMs: 0, term: 1, leader: 1 },
        { timeMs: 1, term: 2, leader: 1 },
        { timeMs: 2, term: 3, leader: 2 },
      ],
    }),
  );
  assert.deepEqual(r.operations, { attempted: 4, ok: 1, failed: 3, casConflicts: 1, indeterminate: 0, retriedAttempts: 7 });
  assert.equal(r.availabilityPercent, 50);
  assert.equal(r.leaderChanges, 1, 'term 2 kept node 1: one change, to node 2');
  assert.match(reportText(r), /3 failed \(1 of them cas conflicts\), 0 indeterminate; 7 retried attempts/);
  assert.equal(history.okOps, 1, 'the running count of ok operations (the progress line reads it)');
  assert.deepEqual(r.generatorLoopDelayMs, { p99: 11, max: 49 });
  assert.match(reportText(r), /load generator {2}event-loop delay p99 11 ms, max 49 ms/);
});

test('without --keys, one key per 4 clients (at least 5): the seed’s 100 clients get 25 keys, so each key’s search stays within its budget', () => {
  assert.equal(defaultKeys(1), 5);
  assert.equal(defaultKeys(10), 5, 'the default load of 10 clients keeps 5 keys');
  assert.equal(defaultKeys(21), 6);
  assert.equal(defaultKeys(100), 25);
  assert.equal(defaultKeys(1000), 250);
});

test('an operation is retried, as the client library does, after an unknown outcome or a refusal that did nothing, never after a definite answer', () => {
  const failed = (kind: 'fail' | 'info', code: string, status = 0): Outcome => ({ kind, status, code, message: code });
  assert.equal(mayRetry({ kind: 'ok', status: 200, body: null }), false);
  assert.equal(mayRetry(failed('info', 'ECONNRESET')), true, 'unknown: a write repeats under its key');
  assert.equal(mayRetry(failed('info', 'TIMEOUT')), true);
  assert.equal(mayRetry(failed('fail', 'ECONNREFUSED')), true, 'never sent');
  assert.equal(mayRetry(failed('fail', 'NO_LEADER', 503)), true);
  assert.equal(mayRetry(failed('fail', 'PRECONDITION_FAILED', 412)), false, 'a cas conflict is an answer');
  assert.equal(mayRetry(failed('fail', 'VALIDATION', 400)), false);
  assert.equal(mayRetry(failed('fail', 'NOT_FOUND', 404)), false);
});
