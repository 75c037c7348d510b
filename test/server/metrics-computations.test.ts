// The computations behind the Raft metrics (issue #13), with time passed in: elections,
// commit latency and lag in ms, rates, member and reachability changes, the fsync
// histogram's buckets, and their Prometheus export.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyBuckets } from '../../src/log/latency-buckets.ts';
import type { MemberStatus } from '../../src/node/backend.ts';
import { ClusterEvents, RECENT_EVENTS_MAX } from '../../src/node/cluster-events.ts';
import { APPEND_TIMES_MAX, CommitTimes, connectivityChanges, ElectionTracker, memberChanges, RateWindow } from '../../src/node/raft-metrics.ts';
import pino from 'pino';

const member = (id: number, extra: Partial<MemberStatus> = {}): MemberStatus => ({
  id,
  url: `http://127.0.0.1:${7000 + id}`,
  voter: true,
  matchIndex: 0,
  lag: 0,
  connected: true,
  ...extra,
});

describe('ElectionTracker', () => {
  test('counts one election per term with a leader, timed from the loss of the last', () => {
    const t = new ElectionTracker(1, 0);
    assert.deepEqual(t.observe(2, 0, 100), null, 'a new term without a leader changes no leader');
    assert.deepEqual(t.observe(2, 3, 250), { kind: 'elected', term: 2, leader: 3, durationMs: 250 });
    assert.equal(t.electionCount, 1);
    assert.equal(t.lastDuration, 250);
    assert.deepEqual(t.observe(2, 0, 1000), { kind: 'lost', term: 2, leader: 3, durationMs: null });
    // Two terms pass (a split vote), the third gets a leader 400 ms after the loss.
    assert.equal(t.observe(4, 0, 1200), null);
    assert.deepEqual(t.observe(5, 1, 1400), { kind: 'elected', term: 5, leader: 1, durationMs: 400 });
    assert.equal(t.electionCount, 2);
    assert.equal(t.electionsStarted, 4, 'terms 2, 3, 4 and 5');
    assert.equal(t.successRate, 0.5);
    assert.equal(t.averageDurationMs, 325);
    assert.equal(t.lastElectedAt, 1400);
  });

  test('a leader of the term the node started in counts that term; a change without a gap has no duration', () => {
    const t = new ElectionTracker(7, 0);
    t.observe(7, 2, 30);
    assert.equal(t.electionCount, 1);
    assert.equal(t.electionsStarted, 1);
    assert.equal(t.successRate, 1);
    const change = t.observe(8, 3, 500);
    assert.deepEqual(change, { kind: 'elected', term: 8, leader: 3, durationMs: null });
    assert.equal(t.electionCount, 2);
    assert.equal(t.averageDurationMs, 30);
  });
});

describe('CommitTimes', () => {
  test('commit latency: from each append batch to the commit index passing it', () => {
    const c = new CommitTimes();
    c.appended(10, 1000);
    c.appended(20, 1002);
    c.committed(10, 1005);
    assert.equal(c.lastLatencyMs, 5);
    c.committed(25, 1010); // the batch up to 20, appended at 1002
    assert.equal(c.lastLatencyMs, 8);
    assert.equal(c.latency.count, 2);
    assert.equal(c.latency.sumMs, 13);
    assert.equal(c.averageLatencyMs, 5 + 0.2 * (8 - 5));
  });

  test('lag in ms: the age of the oldest batch a follower lacks', () => {
    const c = new CommitTimes();
    c.appended(5, 100);
    c.appended(9, 200);
    c.appended(12, 300);
    assert.equal(c.lagMs(12, 1000), 0, 'has everything');
    assert.equal(c.lagMs(9, 1000), 700, 'lacks the batch of 300');
    assert.equal(c.lagMs(6, 1000), 800, 'lacks the batch of 200');
    assert.equal(c.lagMs(0, 1000), 900);
    c.reset();
    assert.equal(c.lagMs(0, 1000), 0, 'no longer leader: nothing recorded');
  });

  test('a full ring forgets the oldest batches, and the lag is at least the oldest kept', () => {
    const c = new CommitTimes();
    for (let i = 1; i <= APPEND_TIMES_MAX + 10; i++) c.appended(i, i);
    assert.equal(c.lagMs(0, 10_000), 10_000 - 11);
    c.committed(APPEND_TIMES_MAX + 10, 20_000);
    assert.equal(c.latency.count, APPEND_TIMES_MAX, 'only the kept batches are timed');
  });
});

test('RateWindow: the rate between the oldest and newest sample of the window', () => {
  const w = new RateWindow(3);
  assert.equal(w.perSecond(), 0);
  w.sample(0, 0);
  w.sample(100, 1000);
  assert.equal(w.perSecond(), 100);
  w.sample(400, 2000);
  w.sample(400, 3000); // the first sample leaves the window
  assert.equal(w.perSecond(), 150);
});

test('memberChanges names added, removed, promoted and readdressed members', () => {
  const before = [member(1), member(2, { voter: false }), member(3)];
  const after = [member(1, { url: 'http://10.0.0.1:7001' }), member(2), member(4, { voter: false })];
  assert.deepEqual(memberChanges(before, after), [
    { type: 'member_address_changed', member: 1, url: 'http://10.0.0.1:7001', previous_url: 'http://127.0.0.1:7001' },
    { type: 'member_promoted', member: 2 },
    { type: 'member_added', member: 4, url: 'http://127.0.0.1:7004', voter: false },
    { type: 'member_removed', member: 3 },
  ]);
  assert.deepEqual(memberChanges([member(1, { url: '' })], [member(1)]), [], 'an address learned is no change');
});

test('connectivityChanges: joined and left members, not new ones', () => {
  const before = new Map([
    [1, true],
    [2, false],
    [3, true],
  ]);
  const after = [member(1), member(2), member(3, { connected: false }), member(4)];
  assert.deepEqual(connectivityChanges(before, after), { joined: [2], left: [3] });
});

test('LatencyBuckets: counts, cumulative buckets and quantile estimates', () => {
  const b = new LatencyBuckets([1, 10, 100]);
  assert.equal(b.quantileMs(0.5), null);
  for (const ms of [0.5, 2, 3, 50, 500]) b.observe(ms);
  assert.deepEqual(b.cumulative(), [1, 3, 4, 5]);
  assert.equal(b.count, 5);
  assert.equal(b.sumMs, 555.5);
  assert.equal(b.quantileMs(0.5), 10);
  assert.equal(b.quantileMs(0.8), 100);
  assert.equal(b.quantileMs(1), Infinity);
  assert.throws(() => new LatencyBuckets([2, 1]), /increase/);
});

test('ClusterEvents: numbered, logged, kept up to a bound, replayed after a sequence number', () => {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  const events = new ClusterEvents(2, logger, () => Date.UTC(2026, 0, 1));
  const seen: number[] = [];
  const unsubscribe = events.subscribe((e) => seen.push(e.seq));
  const first = events.emit({ type: 'leader_elected', leader: 3, election_duration_ms: 120 }, 4);
  assert.deepEqual(first, { seq: 1, at: '2026-01-01T00:00:00.000Z', node: 2, term: 4, type: 'leader_elected', leader: 3, election_duration_ms: 120 });
  const logged = JSON.parse(lines[0]!) as { msg: string; clusterEvent: unknown };
  assert.equal(logged.msg, 'cluster event: leader_elected');
  assert.deepEqual(logged.clusterEvent, first);
  for (let i = 0; i < RECENT_EVENTS_MAX + 5; i++) events.emit({ type: 'node_left', member: 1 }, 4);
  unsubscribe();
  events.emit({ type: 'node_joined', member: 1 }, 4);
  assert.equal(seen.length, RECENT_EVENTS_MAX + 6, 'the listener saw every event until it unsubscribed');
  const kept = events.since(0);
  assert.equal(kept.length, RECENT_EVENTS_MAX);
  assert.equal(kept[kept.length - 1]!.type, 'node_joined');
  assert.deepEqual(
    events.since(RECENT_EVENTS_MAX + 5).map((e) => e.seq),
    [RECENT_EVENTS_MAX + 6, RECENT_EVENTS_MAX + 7],
  );
});
