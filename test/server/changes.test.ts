// Change streams over a real socket: RaftEvent records, exact resume tokens (several changes
// in one log entry), deletes replayed from the retained log, 410 past it, the all-collections
// stream.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from '../../src/index.ts';
import { EmbeddedBackend } from '../../src/node/embedded-backend.ts';
import { createServer } from '../../src/server/index.ts';
import type { RaftEvent } from '../../src/store/raft-event.ts';
import { bodyOf, openResponse, openStream } from './change-sse.ts';
import { send, startTestServer } from './helpers.ts';

const summary = (e: RaftEvent): string => `${e.collection}/${e.aggregateId} ${e.eventType}`;

describe('change streams', () => {
  test('events are RaftEvent records; a resume replays every change after the token, deletes and one entry’s several changes included', async () => {
    const s = await startTestServer({ changeStream: { heartbeatMs: 60_000 } });
    try {
      const base = await s.app.listen({ port: 0, host: '127.0.0.1' });
      // Live only without a token: the writes before the stream are not sent.
      await send(s.app, 'POST', '/api/feed', { _id: 'before' });
      const live = await openStream(`${base}/api/feed/_changes`);
      const a = (await send(s.app, 'POST', '/api/feed', { _id: 'a', n: 1 })).json();
      await send(s.app, 'POST', '/api/other', { _id: 'z' }); // another collection: not in this feed
      await send(s.app, 'POST', '/api/feed', [{ _id: 'b' }, { _id: 'c' }]); // one entry, two changes
      const tx = await send(s.app, 'POST', '/api/_tx', {
        ops: [
          { op: 'update', collection: 'feed', filter: { _id: 'a' }, update: { $inc: { n: 1 } }, multi: false, upsert: false },
          { op: 'remove', collection: 'feed', filter: { _id: 'b' }, multi: false },
          { op: 'replace', collection: 'feed', id: 'c', doc: { v: 2 } },
        ],
        if: [],
      });
      assert.equal(tx.statusCode, 200, tx.body);
      await send(s.app, 'DELETE', '/api/feed/a');

      const events = await live.changes(7);
      assert.deepEqual(events.map(summary), [
        'feed/a Created',
        'feed/b Created',
        'feed/c Created',
        'feed/a Updated',
        'feed/b Deleted',
        'feed/c Replaced',
        'feed/a Deleted',
      ]);
      const first = events[0]!;
      assert.equal(first.sequence, a._rev);
      assert.equal(first.position, 0);
      assert.equal(first.eventId, `${a._rev}.0`);
      assert.deepEqual(first.data, a);
      assert.equal(first.term >= 1, true);
      assert.equal(typeof first.timestamp, 'number');
      assert.ok(Math.abs(first.timestamp - Date.now()) < 60_000, 'the leader’s stamp');
      // One entry, several changes: one sequence, positions 0, 1, 2.
      assert.deepEqual(
        events.slice(3, 6).map((e) => e.eventId),
        [0, 1, 2].map((p) => `${events[3]!.sequence}.${p}`),
      );
      assert.equal(events[4]!.data, undefined, 'a delete carries no data');
      live.abort();

      // Resume after b's creation (position 0 of its entry): c's creation (position 1 of the
      // same entry) comes next. A token naming the entry alone would skip it.
      const resumed = await openStream(`${base}/api/feed/_changes`, { 'last-event-id': events[1]!.eventId });
      assert.deepEqual(await resumed.changes(5), events.slice(2));
      resumed.abort();
      // ?resumeAfter= does the same; ?since=<n> is after the whole entry n.
      const byQuery = await openStream(`${base}/api/feed/_changes?resumeAfter=${events[4]!.eventId}`);
      assert.deepEqual(await byQuery.changes(2), events.slice(5));
      byQuery.abort();
      const since = await openStream(`${base}/api/feed/_changes?since=${events[1]!.sequence}`);
      assert.deepEqual(await since.changes(4), events.slice(3));
      since.abort();
    } finally {
      await s.close();
    }
  });

  test('GET /api/_changes carries every collection, in log order', async () => {
    const s = await startTestServer({ changeStream: { heartbeatMs: 60_000 } });
    try {
      const base = await s.app.listen({ port: 0, host: '127.0.0.1' });
      await send(s.app, 'POST', '/api/one', { _id: 'x' });
      await send(s.app, 'POST', '/api/two', { _id: 'y' });
      await send(s.app, 'DELETE', '/api/one/x');
      const all = await openStream(`${base}/api/_changes?resumeAfter=0`);
      assert.deepEqual((await all.changes(3)).map(summary), ['one/x Created', 'two/y Created', 'one/x Deleted']);
      all.abort();
    } finally {
      await s.close();
    }
  });

  test('an idle stream gets heartbeats; closing it unsubscribes', async () => {
    const s = await startTestServer({ changeStream: { heartbeatMs: 50 } });
    try {
      const base = await s.app.listen({ port: 0, host: '127.0.0.1' });
      const openCount = async (): Promise<number> => {
        const line = (await send(s.app, 'GET', '/metrics')).body.split('\n').find((l) => l.startsWith('collection_store_change_streams '));
        return Number(line?.split(' ')[1]);
      };
      const stream = await openStream(`${base}/api/feed/_changes`);
      let msg = await stream.next();
      while (msg !== null && msg.comment !== 'heartbeat') msg = await stream.next();
      assert.equal(msg?.comment, 'heartbeat');
      assert.equal(await openCount(), 1);
      stream.abort();
      const deadline = Date.now() + 3000;
      while ((await openCount()) !== 0) {
        assert.ok(Date.now() < deadline, 'the stream was not closed');
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await s.close();
    }
  });

  test('a token older than the retained changes gets 410 CHANGES_EXPIRED; a bad token 400', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-changes-'));
    try {
      const first = await open({ dir });
      await first.collection('c').insert({ _id: 'a' });
      await first.collection('c').remove('a');
      const { index } = await first.snapshot();
      await first.close();
      // Reopened from its snapshot: the changes inside it are unknown, those after it retained.
      const db = await open({ dir });
      const app = await createServer({ backend: new EmbeddedBackend(db, 'http://127.0.0.1:0') });
      try {
        const base = await app.listen({ port: 0, host: '127.0.0.1' });
        await db.collection('c').insert({ _id: 'b' });
        const expired = await openResponse(`${base}/api/c/_changes?resumeAfter=1.0`);
        assert.equal(expired.statusCode, 410);
        assert.equal(JSON.parse(await bodyOf(expired)).error.code, 'CHANGES_EXPIRED');
        // From the snapshot's index on, everything is known.
        const kept = await openStream(`${base}/api/c/_changes?resumeAfter=${index}`);
        assert.equal(summary(await kept.nextChange()), 'c/b Created');
        kept.abort();
        for (const bad of ['x', '1.', '.1', '-1', '1.2.3', '01']) {
          assert.equal((await send(app, 'GET', `/api/c/_changes?resumeAfter=${bad}`)).statusCode, 400, bad);
        }
        assert.equal((await send(app, 'GET', '/api/c/_changes?since=1.0')).statusCode, 400);
        assert.equal((await send(app, 'GET', '/api/c/_changes?since=1&resumeAfter=1')).statusCode, 400);
      } finally {
        await app.close();
        await db.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
