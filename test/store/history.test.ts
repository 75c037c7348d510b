// Per-document history and the audit chain in the state machine (issue #14): RaftEvent
// records built at apply from the entry (index, term, the leader's stamp and id), retention
// by count and log time, reads of old versions, and a hash chain whose verify names the
// first record edited in a snapshot's bytes (on a real node's disk: test/cluster/audit-tamper.test.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../../src/store/store.ts';
import { decodeSnapshotData, encodeSnapshotData } from '../../src/store/snapshot.ts';
import type { Command, SetSchemaCommand } from '../../src/store/commands.ts';
import { linkHash } from '../../src/store/audit.ts';
import type { RaftEvent } from '../../src/store/raft-event.ts';

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
    const verdict = log.store.verifyAudit('p');
    assert.equal(verdict.ok, true);
    assert.equal(verdict.checked, 10);
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

  test('asOf reads only what the retention keeps: a version _history no longer lists is not readable either', () => {
    const log = new Log();
    log.ok(model({ trackHistory: true, history: { maxAgeMs: 1_000 } }));
    const upd = { type: 'update', collection: 'p', filter: { _id: 'a' }, update: { $inc: { n: 1 } }, multi: false, upsert: false } as const;
    log.ok({ type: 'insert', collection: 'p', docs: [{ _id: 'a', n: 0 }] }, T0); // index 2
    log.ok(upd, T0 + 600); // 3: n 1
    log.ok(upd, T0 + 1_200); // 4: n 2; this write prunes the record of T0 (older than T0 + 200)
    // 5: the log clock moves on without a write of a: its record of T0 + 600 stays stored, but
    // is past maxAgeMs (older than T0 + 700), so reads leave it out.
    log.ok({ type: 'insert', collection: 'p', docs: [{ _id: 'b' }] }, T0 + 1_700);
    const kept = log.store.documentHistory('p', 'a');
    assert.deepEqual(
      kept.map((e) => e.sequence),
      [4],
    );
    // Every point agrees with that list: readable exactly when the version in force then is listed.
    for (let sequence = 1; sequence <= 6; sequence++) {
      const expected = sequence >= 4 ? { _id: 'a', _rev: 4, n: 2 } : undefined;
      assert.deepEqual(log.store.getAsOf('p', 'a', { sequence }), expected, `asOf sequence ${sequence}`);
    }
    assert.equal(log.store.getAsOf('p', 'a', { timeMs: T0 + 600 }), undefined, 'n 1 was current then, but its record is past maxAgeMs');
    assert.equal(log.store.getAsOf('p', 'a', { timeMs: T0 + 1_199 }), undefined);
    assert.deepEqual(log.store.getAsOf('p', 'a', { timeMs: T0 + 1_200 })?.['n'], 2);
    // Once the log clock passes the last record's age too, neither lists nor reads it (the
    // document itself is still there: a plain get reads it).
    log.ok({ type: 'insert', collection: 'p', docs: [{ _id: 'c' }] }, T0 + 2_300);
    assert.deepEqual(log.store.documentHistory('p', 'a'), []);
    assert.equal(log.store.getAsOf('p', 'a', { sequence: 6 }), undefined);
    assert.deepEqual(log.store.get('p', 'a')?.['n'], 2);
  });
});

describe('audit', () => {
  test('a chain of every change verifies, survives a snapshot, and names the first record edited in the snapshot', () => {
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
    const head = { hash: records[4]!.hash, eventId: records[4]!.event.eventId };
    assert.deepEqual(log.store.verifyAudit('p'), { ok: true, checked: 5, head });

    // The snapshot's bytes, decoded and encoded again as someone with the disk could.
    const data = decodeSnapshotData(encodeSnapshotData(log.store.captureSnapshot()));
    const chain = data.audit![0]!.records as Array<{ event: RaftEvent; prevHash: string; hash: string }>;
    const honest = Store.restoreSnapshot(encodeSnapshotData(data));
    assert.deepEqual(honest.verifyAudit('p'), { ok: true, checked: 5, head });

    // One record's data edited (a price): that record's hash no longer matches its content.
    (chain[2]!.event.data as Record<string, unknown>)['price'] = 100;
    let verdict = Store.restoreSnapshot(encodeSnapshotData(data)).verifyAudit('p');
    assert.equal(verdict.ok, false);
    assert.equal(verdict.checked, 2);
    assert.equal(verdict.brokenAt?.position, 2);
    assert.equal(verdict.brokenAt?.eventId, records[2]!.event.eventId);
    assert.match(verdict.brokenAt!.reason, /does not match the record's content/);

    // ...and its hash recomputed too: the next record's prevHash names the break.
    chain[2]!.hash = linkHash(chain[2]!.prevHash, chain[2]!.event);
    verdict = Store.restoreSnapshot(encodeSnapshotData(data)).verifyAudit('p');
    assert.equal(verdict.brokenAt?.position, 3);
    assert.equal(verdict.brokenAt?.eventId, records[3]!.event.eventId);
    assert.match(verdict.brokenAt!.reason, /^prevHash [0-9a-f]{64} is not the hash of the record before/);

    // ...and every later hash rewritten: the chain verifies (the limit of a chain with no
    // outside anchor), but its head is no longer the honest one.
    for (let i = 3; i < chain.length; i++) {
      chain[i]!.prevHash = chain[i - 1]!.hash;
      chain[i]!.hash = linkHash(chain[i]!.prevHash, chain[i]!.event);
    }
    verdict = Store.restoreSnapshot(encodeSnapshotData(data)).verifyAudit('p');
    assert.equal(verdict.ok, true);
    assert.equal(verdict.head.eventId, head.eventId);
    assert.notEqual(verdict.head.hash, head.hash);
  });
});
