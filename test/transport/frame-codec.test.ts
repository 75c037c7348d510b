import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { decodeFrame, encodeFrame } from '../../src/transport/frame-codec.ts';
import { parseMessage } from '../../src/transport/message-validation.ts';
import { everyMessage } from './harness.ts';

const raw = new Packr({ useRecords: false });

describe('frame codec', () => {
  test('every Message type round-trips, byte fields as plain Uint8Array', () => {
    const messages = everyMessage(2, 3);
    assert.equal(new Set(messages.map((m) => m.type)).size, 13);
    for (const m of messages) {
      const decoded = decodeFrame(encodeFrame({ k: 'raft', m }));
      assert.deepEqual(decoded, { k: 'raft', m }, m.type);
    }
    const ae = decodeFrame(encodeFrame({ k: 'raft', m: messages[4]! }));
    assert.ok(typeof ae !== 'string' && ae.k === 'raft' && ae.m.type === 'AppendEntries');
    assert.equal(Object.getPrototypeOf(ae.m.entries[1]!.data), Uint8Array.prototype);
  });

  test('handshake, request and response frames round-trip', () => {
    const frames = [
      { k: 'hello', clusterId: 'c', nodeId: 2, address: '127.0.0.1:1', version: 1, incarnation: 'inc-1' },
      { k: 'welcome', nodeId: 3 },
      { k: 'refused', code: 'cluster-id', reason: 'no' },
      { k: 'req', id: 0, body: { op: 'insert', doc: { a: [1, 'x', null] } } },
      { k: 'res', id: 5, ok: true, body: null },
      { k: 'res', id: 5, ok: false, error: { code: 'NOT_LEADER', message: 'm' } },
      { k: 'res', id: 6, ok: false, error: { message: 'm' } },
    ] as const;
    for (const f of frames) assert.deepEqual(decodeFrame(encodeFrame(f)), f);
  });

  test('wrong shapes are described, not thrown', () => {
    const bad: unknown[] = [
      null,
      42,
      [1, 2],
      { k: 'nope' },
      { k: 'hello', clusterId: 'c', nodeId: 0, address: 'a', version: 1 },
      { k: 'hello', clusterId: 'c', nodeId: 2, address: 'x'.repeat(5000), version: 1 },
      { k: 'welcome', nodeId: -1 },
      { k: 'refused', code: 'whatever', reason: 'r' },
      { k: 'req', id: 1.5, body: 1 },
      { k: 'req', id: 1 },
      { k: 'res', id: 1, ok: 'yes', body: 1 },
      { k: 'res', id: 1, ok: false, error: 'x' },
      { k: 'raft', m: null },
      { k: 'raft', m: { type: 'Heartbeat', from: 1, to: 2, term: 1, commit: 1 } },
      { k: 'raft', m: { type: 'Heartbeat', from: 1, to: 2, term: -1, commit: 1, context: 0 } },
      { k: 'raft', m: { type: 'Heartbeat', from: 0, to: 2, term: 1, commit: 1, context: 0 } },
      { k: 'raft', m: { type: 'Heartbeat', from: '1', to: 2, term: 1, commit: 1, context: 0 } },
      { k: 'raft', m: { type: 'Bogus', from: 1, to: 2, term: 1 } },
      {
        k: 'raft',
        m: {
          type: 'AppendEntries',
          from: 1,
          to: 2,
          term: 1,
          prevLogIndex: 0,
          prevLogTerm: 0,
          leaderCommit: 0,
          entries: [{ index: 1, term: 1, type: 'normal', data: 'str' }],
        },
      },
      {
        k: 'raft',
        m: {
          type: 'AppendEntries',
          from: 1,
          to: 2,
          term: 1,
          prevLogIndex: 0,
          prevLogTerm: 0,
          leaderCommit: 0,
          entries: [{ index: 1, term: 1, type: 'weird', data: new Uint8Array(1) }],
        },
      },
      {
        k: 'raft',
        m: {
          type: 'InstallSnapshot',
          from: 1,
          to: 2,
          term: 1,
          meta: { index: 1, term: 1, conf: { voters: [0], learners: [] } },
          offset: 0,
          chunk: new Uint8Array(1),
          done: true,
        },
      },
      { k: 'raft', m: { type: 'InstallSnapshotResponse', from: 1, to: 2, term: 1, snapshotIndex: 1, nextOffset: -2, done: true } },
      { k: 'raft', m: { type: 'RequestVote', from: 1, to: 2, term: 1, lastLogIndex: 1, lastLogTerm: 1, transfer: 1 } },
    ];
    for (const value of bad) {
      const result = decodeFrame(raw.pack(value));
      assert.equal(typeof result, 'string', JSON.stringify(value)?.slice(0, 200));
    }
    assert.equal(typeof decodeFrame(Buffer.from([0xc1])), 'string');
    assert.equal(typeof decodeFrame(Buffer.alloc(0)), 'string');
  });

  test('rebuilt messages drop unknown keys and prototypes', () => {
    const m = parseMessage(JSON.parse('{"type":"TimeoutNow","from":1,"to":2,"term":3,"__proto__":{"x":1},"extra":true}'));
    assert.deepEqual(m, { type: 'TimeoutNow', from: 1, to: 2, term: 3 });
  });

  test('random bytes never throw and never decode to an invalid Raft message', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300, size: 'max' }), (data) => {
        const result = decodeFrame(data);
        if (typeof result !== 'string' && result.k === 'raft') assert.equal(typeof parseMessage(result.m), 'object');
      }),
      { numRuns: 1500 },
    );
  });

  test('random structures never throw, and anything accepted is a well-formed message', () => {
    const field = fc.oneof(
      fc.integer({ min: -3, max: 1e6 }),
      fc.boolean(),
      fc.string({ maxLength: 4 }),
      fc.uint8Array({ maxLength: 4 }),
      fc.constant(null),
      fc.double(),
    );
    const types = fc.constantFrom(
      'PreVote',
      'PreVoteResponse',
      'RequestVote',
      'RequestVoteResponse',
      'AppendEntries',
      'AppendEntriesResponse',
      'Heartbeat',
      'HeartbeatResponse',
      'InstallSnapshot',
      'InstallSnapshotResponse',
      'TimeoutNow',
      'x',
    );
    const keys = [
      'from',
      'to',
      'term',
      'lastLogIndex',
      'lastLogTerm',
      'granted',
      'transfer',
      'prevLogIndex',
      'prevLogTerm',
      'entries',
      'leaderCommit',
      'success',
      'matchIndex',
      'conflictIndex',
      'conflictTerm',
      'commit',
      'context',
      'meta',
      'offset',
      'chunk',
      'done',
      'snapshotIndex',
      'nextOffset',
    ];
    const message = fc.record({ type: types, ...Object.fromEntries(keys.map((k) => [k, field])) }, { requiredKeys: ['type'] });
    fc.assert(
      fc.property(message, (m) => {
        const result = decodeFrame(raw.pack({ k: 'raft', m }));
        if (typeof result === 'string') return;
        assert.equal(result.k, 'raft');
        for (const k of ['from', 'to']) assert.ok(Number.isSafeInteger((result.m as unknown as Record<string, unknown>)[k]));
      }),
      { numRuns: 400 },
    );
  });
});
