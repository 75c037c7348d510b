// The write-path trace (src/node/write-trace.ts) and its report (bench/fixtures/write-trace-report.ts):
// sampling by index, acks counted once per follower, commits in order, the watch list bounded,
// and the report's steps computed from the nodes' lines.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TRACE_AWAITED_MAX, WriteTrace, type WriteTraceRecord } from '../../src/node/write-trace.ts';
import { parseTrace, summarizeTrace } from '../../bench/fixtures/write-trace-report.ts';

function recorder(node: number, everyNth: number): { trace: WriteTrace; records: WriteTraceRecord[] } {
  const records: WriteTraceRecord[] = [];
  return { trace: new WriteTrace(node, everyNth, (line) => records.push(JSON.parse(line) as WriteTraceRecord)), records };
}

describe('WriteTrace', () => {
  test('samples every n-th index, the same ones on every node', () => {
    const { trace, records } = recorder(1, 4);
    trace.markRange('received', 1, 13);
    assert.deepEqual(
      records.map((r) => r.index),
      [4, 8, 12],
    );
    trace.mark('synced', 5);
    assert.equal(records.length, 3);
    assert.throws(() => new WriteTrace(1, 0, () => {}), /positive integer/);
  });

  test('records each follower’s first ack once, and commits in index order', () => {
    const { trace, records } = recorder(1, 2);
    for (const index of [2, 4, 6]) trace.proposed(index);
    trace.ackReceived(2, 4);
    trace.ackReceived(2, 4); // a duplicate ack
    trace.ackReceived(3, 6);
    trace.committed(4);
    trace.committed(4);
    const acks = records.filter((r) => r.stage === 'ackReceived').map((r) => `${r.index}@${r.peer}`);
    assert.deepEqual(acks, ['2@2', '4@2', '2@3', '4@3', '6@3']);
    assert.deepEqual(
      records.filter((r) => r.stage === 'committed').map((r) => r.index),
      [2, 4],
    );
    const times = records.map((r) => r.ms);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'the monotonic clock never goes back',
    );
  });

  test('watches at most TRACE_AWAITED_MAX proposals (a leader that never commits cannot grow it)', () => {
    const { trace, records } = recorder(1, 1);
    for (let index = 1; index <= TRACE_AWAITED_MAX + 10; index++) trace.proposed(index);
    trace.ackReceived(2, 5);
    assert.equal(records.filter((r) => r.stage === 'ackReceived').length, 0, 'the oldest were dropped');
    trace.committed(TRACE_AWAITED_MAX + 10);
    assert.equal(records.filter((r) => r.stage === 'committed').length, TRACE_AWAITED_MAX);
  });
});

describe('summarizeTrace', () => {
  test('lines up the leader and followers by index and measures each step', () => {
    const lines: WriteTraceRecord[] = [];
    const at = (node: number, index: number, stage: WriteTraceRecord['stage'], ms: number, peer?: number): void => {
      lines.push({ node, index, stage, ms, ...(peer !== undefined ? { peer } : {}) });
    };
    // Entry 8: the leader (1) writes for 3 ms; follower 2 acks first, after the leader's write.
    at(1, 8, 'proposed', 100);
    at(1, 8, 'sent', 100.5, 2);
    at(1, 8, 'sent', 100.5, 3);
    at(1, 8, 'syncStart', 100.6);
    at(2, 8, 'received', 100.7);
    at(3, 8, 'received', 100.9);
    at(2, 8, 'syncStart', 100.8);
    at(2, 8, 'synced', 103.8);
    at(2, 8, 'ackSent', 104);
    at(1, 8, 'synced', 103.6);
    at(1, 8, 'ackReceived', 104.2, 2);
    at(1, 8, 'committed', 104.3);
    at(1, 8, 'applied', 104.5);
    // Entry 12 is outside the window; entry 4 has no proposal by the leader (before it led).
    at(1, 12, 'proposed', 200);
    at(2, 4, 'received', 50);
    const text = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
    const summary = summarizeTrace(parseTrace(text), 1, 1, 10);
    assert.equal(summary.entries, 1);
    const step = (name: string): number => {
      const found = summary.steps.find((s) => s.step.startsWith(name));
      assert.ok(found, `step ${name}`);
      return found.p50Ms;
    };
    assert.equal(step('leader: own write'), 3);
    assert.equal(step('follower: own write'), 3);
    assert.equal(step('network + leader loop'), 0.2);
    assert.equal(step('leader: proposed → quorum durable'), 4.2);
    assert.equal(step('leader: quorum durable → committed'), 0.1);
    assert.equal(step('leader: proposed → applied'), 4.5);
    assert.equal(summary.leaderSyncLastShare, 0, 'the first ack came after the leader’s own write');
  });
});
