// Per-document history and the audit chain in the state machine (issue #14): RaftEvent
// records built at apply from the entry (index, term, the leader's stamp and id), retention
// by count and log time, reads of old versions, and a hash chain whose verify names the
// first record edited in a node's snapshot.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { Store } from '../../src/store/store.ts';
import { encodeSnapshotData } from '../../src/store/snapshot.ts';
import type { Command, SetSchemaCommand } from '../../src/store/commands.ts';
import type { AuditRecord } from '../../src/store/audit.ts';

const T0 = 1_700_000_000_000;

class Log {
  index = 0;
  constructor(readonly store: Store = new Store()) {}
  ok(command: Command, timeMs = T0 + this.index, term = 2): void {
    const r = this.store.apply({ ...command, timeMs, nodeId: 3 } as Command, ++this.index, { term });
    if (!r.ok) assert.fail(`${r.error.code}: ${r.error.message}`);
  }
}

function model(options: SetSchemaCommand['options']): SetSchemaCommand {
  return { type: 'setSchema', collection: 'p', schema: { type: 'object' }, options, force: false };
}

describe('history', () => {
  test("every change is a RaftEvent record, oldest first, with the entry's index, term, stamp, leader and user", () => {
    const log = new Log();
    log.ok(model({ trackHistory: true }));
    log.ok({ type: 'insert', collection: 'p', docs: [{ _id: 'a', n: 1 }], idempotency: { key: 'k1', digest: 'd', user: 'alice' } });
    log.ok({ type: 'update', collection: 'p', filter: { _id: 'a' }, update: { $inc: { n: 1 } }, multi: false, upsert: false }, T0 + 50, 3);
    log.ok({ type: 'replace', collection: 'p', id: 'a', doc: { n: 10 }, upsert: false }, T0 + 60);
    log.ok({ type: 'remove', collection: 'p', filter: { _id: 'a' }, multi: false }, T0 + 70);
    const h = log.store.documentHistory('p', 'a');
    assert.deepEqual(
      h.map((e) => [e.eventType, e.sequence, e.term, e.eventId]),
      [
        ['Created', 2, 2, '2.0'],
        ['Updated', 3, 3, '3.0'],
        ['Replaced', 4, 2, '4.0'],
        ['Deleted', 5, 2, '5.0'],
      ],
    );
    assert.equal(h[0]!.user, 'alice');
    assert.equal(h[0]!.nodeId, 3);
    assert.equal(h[1]!.timestamp, T0 + 50);
    assert.deepEqual(h[1]!.data, { _id: 'a', _rev: 3, n: 2 });
    assert.equal(h[3]!.data, undefined);
    assert.deepEqual(log.store.getAsOf('p', 'a', { sequence: 3 }), { _id: 'a', _rev: 3, n: 2 });
    assert.deepEqual(log.store.getAsOf('p', 'a', { timeMs: T0 + 50 }), { _id: 'a', _rev: 3, n: 2 });
    assert.equal(log.store.getAsOf('p', 'a', { sequence: 1 }), undefined);
    assert.equal(log.store.getAsOf('p', 'a', { sequence: 5 }), undefined, 'deleted by then');
  });

  test("the user is the entry's (`user`, set by the server from the request's credentials), the same in history and audit", () => {
    const log = new Log();
    log.ok(model({ trackHistory: true, audited: true }));
    log.ok({ type: 'insert', collection: 'p', docs: [{ _id: 'a' }], user: 'alice' });
    log.ok({ type: 'update', collection: 'p', filter: { _id: 'a' }, update: { $set: { n: 1 } }, multi: false, upsert: false, user: 'bob' });
    // The entry's user, not its idempotency tag's (the server sets both to the same user).
    log.ok({
      type: 'tx',
      ops: [{ type: 'replace', collection: 'p', id: 'a', doc: { n: 2 }, upsert: false }],
      if: [],
      user: 'carol',
      idempotency: { key: 'k', digest: 'd', user: 'dave' },
    });
    // A batch's inserts may come from different users' requests: each names its own.
    log.ok({
      type: 'batch',
      ops: [
        { type: 'insert', collection: 'p', docs: [{ _id: 'b' }], user: 'alice' },
        { type: 'insert', collection: 'p', docs: [{ _id: 'c' }], user: 'bob', idempotency: { key: 'k2', digest: 'd', user: 'bob' } },
        { type: 'insert', collection: 'p', docs: [{ _id: 'd' }] },
      ],
    });
    log.ok({ type: 'remove', collection: 'p', filter: {}, multi: true, user: 'alice' });
    const users = (id: string): [string, string | undefined][] => log.store.documentHistory('p', id).map((e) => [e.eventType, e.user]);
    assert.deepEqual(users('a'), [
      ['Created', 'alice'],
      ['Updated', 'bob'],
      ['Replaced', 'carol'],
      ['Deleted', 'alice'],
    ]);
    assert.deepEqual(users('b'), [
      ['Created', 'alice'],
      ['Deleted', 'alice'],
    ]);
    assert.deepEqual(users('c')[0], ['Created', 'bob']);
    assert.deepEqual(users('d')[0], ['Created', undefined]);
    assert.ok(!Object.hasOwn(log.store.documentHistory('p', 'd')[0]!, 'user'), 'no user: no field');
    assert.deepEqual(
      log.store.auditRecords('p').map((r) => [r.event.aggregateId, r.event.eventType, r.event.user]),
      [
        ['a', 'Created', 'alice'],
        ['a', 'Updated', 'bob'],
        ['a', 'Replaced', 'carol'],
        ['b', 'Created', 'alice'],
        ['c', 'Created', 'bob'],
        ['d', 'Created', undefined],
        ['a', 'Deleted', 'alice'],
        ['b', 'Deleted', 'alice'],
        ['c', 'Deleted', 'alice'],
        ['d', 'Deleted', 'alice'],
      ],
    );
    assert.deepEqual(log.store.verifyAudit('p'), { ok: true, checked: 10 });
  });

  test("an entry from before `user` existed records as it did then: its tag's user, or none", () => {
    const log = new Log();
    log.ok(model({ trackHistory: true }));
    const old = (command: Command): Command => ({ ...command, rules: 2 }) as Command;
    log.ok(old({ type: 'insert', collection: 'p', docs: [{ _id: 'a' }], idempotency: { key: 'k', digest: 'd', user: 'alice' } }));
    log.ok(old({ type: 'update', collection: 'p', filter: { _id: 'a' }, update: { $set: { n: 1 } }, multi: false, upsert: false }));
    log.ok(
      old({ type: 'batch', ops: [{ type: 'insert', collection: 'p', docs: [{ _id: 'b' }], idempotency: { key: 'k2', digest: 'd', user: 'bob' } }] }),
    );
    const records = [...log.store.documentHistory('p', 'a'), ...log.store.documentHistory('p', 'b')];
    assert.deepEqual(
      records.map((e) => [e.aggregateId, e.eventType, Object.hasOwn(e, 'user') ? e.user : 'no field']),
      [
        ['a', 'Created', 'alice'],
        ['a', 'Updated', 'no field'],
        ['b', 'Created', 'bob'],
      ],
    );
  });

  test('positions count every change of the entry; a failed op of a batch and a failed command record nothing', () => {
    const log = new Log();
    log.ok(model({ trackHistory: true }));
    log.ok({ type: 'insert', collection: 'p', docs: [{ _id: 'x' }] });
    log.ok({
      type: 'batch',
      ops: [
        { type: 'insert', collection: 'p', docs: [{ _id: 'a' }] },
        { type: 'insert', collection: 'p', docs: [{ _id: 'b' }, { _id: 'x' }] },
        { type: 'insert', collection: 'p', docs: [{ _id: 'c' }] },
      ],
    });
    assert.deepEqual(
      log.store.documentHistory('p', 'c').map((e) => e.eventId),
      ['3.1'],
    );
    assert.deepEqual(log.store.documentHistory('p', 'b'), []);
    const r = log.store.apply({ type: 'insert', collection: 'p', docs: [{ _id: 'd' }, { _id: 'x' }] }, ++log.index);
    assert.equal(r.ok, false);
    assert.deepEqual(log.store.documentHistory('p', 'd'), []);
  });

  test('retention by count and by log time; collections without trackHistory keep nothing', () => {
    const log = new Log();
    log.ok(model({ trackHistory: true, history: { maxVersions: 3, maxAgeMs: 1_000 } }));
    log.ok({ type: 'insert', collection: 'p', docs: [{ _id: 'a', n: 0 }] });
    for (let i = 0; i < 5; i++)
      log.ok({ type: 'update', collection: 'p', filter: { _id: 'a' }, update: { $inc: { n: 1 } }, multi: false, upsert: false });
    assert.deepEqual(
      log.store.documentHistory('p', 'a').map((e) => e.data?.['n']),
      [3, 4, 5],
    );
    log.ok({ type: 'update', collection: 'p', filter: { _id: 'a' }, update: { $inc: { n: 1 } }, multi: false, upsert: false }, T0 + 5_000);
    assert.deepEqual(
      log.store.documentHistory('p', 'a').map((e) => e.data?.['n']),
      [6],
      'older than 1 s of log time',
    );
    log.ok({ type: 'insert', collection: 'q', docs: [{ _id: 'a' }] }, T0 + 5_001);
    assert.deepEqual(log.store.documentHistory('q', 'a'), []);
  });
});

describe('audit', () => {
  test("a chain of every change verifies, survives a snapshot, and names the first record edited on a node's disk", () => {
    const log = new Log();
    log.ok(model({ audited: true }));
    log.ok({
      type: 'insert',
      collection: 'p',
      docs: [
        { _id: 'a', price: 1 },
        { _id: 'b', price: 2 },
      ],
    });
    log.ok({ type: 'update', collection: 'p', filter: {}, update: { $inc: { price: 1 } }, multi: true, upsert: false });
    log.ok({ type: 'remove', collection: 'p', filter: { _id: 'b' }, multi: false });
    const records = log.store.auditRecords('p');
    assert.equal(records.length, 5);
    assert.equal(records[1]!.prevHash, records[0]!.hash);
    assert.deepEqual(log.store.verifyAudit('p'), { ok: true, checked: 5 });

    // The snapshot as a node keeps it: edit one record's data (a price), as someone with the disk would.
    const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
    const data = packr.unpack(encodeSnapshotData(log.store.captureSnapshot())) as { audit: { records: AuditRecord[] }[] };
    const honest = Store.restoreSnapshot(packr.pack(data));
    assert.deepEqual(honest.verifyAudit('p'), { ok: true, checked: 5 });
    (data.audit[0]!.records[2]!.event.data as Record<string, unknown>)['price'] = 100;
    const edited = Store.restoreSnapshot(packr.pack(data));
    const verdict = edited.verifyAudit('p');
    assert.equal(verdict.ok, false);
    assert.equal(verdict.brokenAt?.position, 2);
    assert.equal(verdict.brokenAt?.eventId, records[2]!.event.eventId);
    assert.match(verdict.brokenAt!.reason, /does not match the record's content/);
  });
});
