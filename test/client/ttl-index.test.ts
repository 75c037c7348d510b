// createIndex(fields, { expireAfterSeconds }) in the client library, against a real server on
// 127.0.0.1: the TTL index is made (the server's answer carries expireAfterSeconds), a
// document whose date field is past its expiry is hidden from reads at once, and a bad
// value is the server's ValidationError.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { connect, ValidationError, type Client } from '../../src/client/index.ts';
import { open, type Database } from '../../src/index.ts';
import { EmbeddedBackend } from '../../src/node/embedded-backend.ts';
import { createServer } from '../../src/server/index.ts';

describe('client createIndex with expireAfterSeconds', () => {
  let db: Database;
  let app: FastifyInstance;
  let client: Client;

  before(async () => {
    db = await open({ memory: true });
    app = await createServer({ backend: new EmbeddedBackend(db, 'http://127.0.0.1:0') });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    client = connect(url, { backoff: { delayMsInitial: 10, delayMsMax: 50 } });
  });
  after(async () => {
    await client.close();
    await app.close();
    await db.close();
  });

  test('the TTL index is made, listed, and hides expired documents', async () => {
    const sessions = client.collection('sessions');
    const index = await sessions.createIndex({ seenAt: 1 }, { expireAfterSeconds: 60, name: 'seen_ttl' });
    assert.deepEqual(index, { name: 'seen_ttl', fields: [['seenAt', 1]], unique: false, expireAfterSeconds: 60 });
    assert.deepEqual(
      (await sessions.indexes()).find((i) => i.name === 'seen_ttl'),
      index,
    );
    const now = Date.now();
    await sessions.insertMany([
      { _id: 'old', seenAt: now - 61_000 },
      { _id: 'fresh', seenAt: new Date(now).toISOString() },
    ]);
    assert.deepEqual(
      (await sessions.find({})).map((d) => d._id),
      ['fresh'],
    );
    await assert.rejects(sessions.createIndex({ at: 1 }, { expireAfterSeconds: -1 }), ValidationError);
  });
});
