// The client's watch() (src/client/watch.ts) against real servers on 127.0.0.1: the
// collection's and the database's changes, resume tokens, failover to another node without
// loss or duplicates, 410 as ChangesExpiredError.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ChangesExpiredError, connect, type ChangeEvent } from '../../src/client/index.ts';
import { parseSseBlock } from '../../src/client/watch-sse.ts';
import { open, type Database } from '../../src/index.ts';
import { EmbeddedBackend } from '../../src/node/embedded-backend.ts';
import { createServer } from '../../src/server/index.ts';

async function serve(db: Database): Promise<{ app: FastifyInstance; url: string }> {
  const app = await createServer({ backend: new EmbeddedBackend(db, 'http://127.0.0.1:0') });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url };
}

async function take(iterator: AsyncGenerator<ChangeEvent, void, undefined>, count: number): Promise<ChangeEvent[]> {
  const out: ChangeEvent[] = [];
  while (out.length < count) {
    const step = await iterator.next();
    assert.equal(step.done, false, 'the watch ended early');
    out.push(step.value as ChangeEvent);
  }
  return out;
}

const summary = (e: ChangeEvent): string => `${e.collection}/${e.aggregateId} ${e.eventType}`;

describe('client watch()', () => {
  test('a collection’s changes and the database’s, resumable after any event id', async () => {
    const db = await open({ memory: true });
    const { app, url } = await serve(db);
    const client = connect(url, { backoff: { delayMsInitial: 10, delayMsMax: 50 } });
    try {
      const col = client.collection('w');
      await col.insert({ _id: 'a' });
      await client.collection('x').insert({ _id: 'q' });
      await col.insertMany([{ _id: 'b' }, { _id: 'c' }]);
      await col.remove('a');
      const events = await take(col.watch({ resumeAfter: '0' }), 4);
      assert.deepEqual(events.map(summary), ['w/a Created', 'w/b Created', 'w/c Created', 'w/a Deleted']);
      assert.deepEqual(await take(col.watch({ resumeAfter: events[1]!.eventId }), 2), events.slice(2));
      const all = await take(client.watch({ resumeAfter: events[0]!.eventId }), 2);
      assert.deepEqual(all.map(summary), ['x/q Created', 'w/b Created']);
      await assert.rejects(col.watch({ resumeAfter: 'nope' }).next(), TypeError);
    } finally {
      await client.close();
      await app.close();
      await db.close();
    }
  });

  test('a node that goes away: the watch resumes on another without loss or duplicates', async () => {
    // Two servers over one database: the same events with the same ids, as on two nodes.
    const db = await open({ memory: true });
    const first = await serve(db);
    const second = await serve(db);
    const client = connect([first.url, second.url], { backoff: { delayMsInitial: 10, delayMsMax: 50 } });
    try {
      const col = db.collection('w');
      const watch = client.collection('w').watch({ resumeAfter: '0' });
      await col.insert({ _id: 'd0' });
      const seen = await take(watch, 1);
      // The first server closes (its streams end), while writes go on.
      const closing = first.app.close();
      for (let i = 1; i < 10; i++) await col.insert({ _id: `d${i}` });
      await col.remove('d3');
      await closing;
      seen.push(...(await take(watch, 10)));
      await watch.return();
      assert.deepEqual(
        seen.map((e) => summary(e)),
        [...Array.from({ length: 10 }, (_, i) => `w/d${i} Created`), 'w/d3 Deleted'],
      );
      assert.equal(new Set(seen.map((e) => e.eventId)).size, seen.length, 'no duplicates');
    } finally {
      await client.close();
      await second.app.close();
      await db.close();
    }
  });

  test('a token the server no longer retains: ChangesExpiredError', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-watch-'));
    try {
      const before = await open({ dir });
      await before.collection('w').insert({ _id: 'a' });
      await before.snapshot();
      await before.close();
      const db = await open({ dir });
      const { app, url } = await serve(db);
      const client = connect(url);
      try {
        await assert.rejects(client.collection('w').watch({ resumeAfter: '1.0' }).next(), ChangesExpiredError);
      } finally {
        await client.close();
        await app.close();
        await db.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('server-sent events: fields, comments, multi-line data', () => {
    assert.deepEqual(parseSseBlock('id: 5.1\nevent: change\ndata: {"a":1}'), { id: '5.1', event: 'change', data: '{"a":1}' });
    assert.equal(parseSseBlock(': heartbeat'), null);
    assert.deepEqual(parseSseBlock('data: a\r\ndata:b'), { data: 'a\nb' });
  });
});
