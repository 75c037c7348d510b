// The client and the embedded database read createIndex's field shapes and the `_id` limit
// the same way, one normaliser (src/store/index-fields.ts) and one limit
// (src/store/id-limit.ts), and generate `_id`s of one form (src/store/ids.ts). Runs the
// client against a real in-process server over an in-memory database, and the same
// database embedded.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Client } from '../../src/client/index.ts';
import type { IndexFields } from '../../src/client/types.ts';
import { open, type Database, type IndexFieldsInput } from '../../src/index.ts';
import { EmbeddedBackend } from '../../src/node/embedded-backend.ts';
import { createServer } from '../../src/server/index.ts';
import { ValidationError } from '../../src/store/errors.ts';
import { ID_BYTES_MAX } from '../../src/store/id-limit.ts';
import { ID_LENGTH } from '../../src/store/ids.ts';
import { BAD_INDEX_FIELD_FORMS, INDEX_FIELD_FORMS, idsAtLimit } from '../store/shared-forms.ts';

/** The ValidationError message `promise` rejects with (fails when it does not). */
async function validationMessage(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof ValidationError, `expected a ValidationError, got ${String(e)}`);
    return e.message;
  }
  assert.fail('expected a rejection');
}

describe('the client and the embedded database agree', () => {
  let db: Database;
  let app: Awaited<ReturnType<typeof createServer>>;
  let client: Client;

  before(async () => {
    db = await open({ memory: true });
    app = await createServer({ backend: new EmbeddedBackend(db, 'http://127.0.0.1:0') });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    client = connect(url, { retries: 0 });
  });
  after(async () => {
    await client.close();
    await app.close();
    await db.close();
  });

  INDEX_FIELD_FORMS.forEach(([what, input, fields], i) => {
    test(`createIndex(${what}) makes the same index fields`, async () => {
      const embedded = await db.collection(`embedded${i}`).createIndex(input as IndexFieldsInput);
      const remote = await client.collection(`remote${i}`).createIndex(input as IndexFields);
      assert.deepEqual(embedded.fields, fields);
      assert.deepEqual(remote.fields, fields);
      assert.deepEqual(await client.collection(`remote${i}`).indexes(), [remote]);
    });
  });

  for (const [what, input, message] of BAD_INDEX_FIELD_FORMS) {
    test(`createIndex(${what}) is refused with the same message`, async () => {
      const embedded = await validationMessage(db.collection('bad').createIndex(input as IndexFieldsInput));
      const remote = await validationMessage(client.collection('bad').createIndex(input as IndexFields));
      assert.match(embedded, message);
      assert.equal(remote, embedded);
    });
  }

  for (const [what, id] of idsAtLimit()) {
    test(`an _id of exactly ${ID_BYTES_MAX} bytes (${what}) is accepted, one byte more refused`, async () => {
      const name = `ids${Buffer.byteLength(id.slice(0, 1), 'utf8')}`;
      const embedded = await db.collection(`embedded-${name}`).insert({ _id: id });
      const remote = await client.collection(`remote-${name}`).insert({ _id: id });
      assert.equal(embedded._id, id);
      assert.equal(remote._id, id);
      assert.equal((await client.collection(`remote-${name}`).get(id))?._id, id);

      const over = id + 'a';
      assert.match(await validationMessage(db.collection(`embedded-${name}`).insert({ _id: over })), /longer than 512 bytes/);
      assert.match(await validationMessage(client.collection(`remote-${name}`).insert({ _id: over })), /at most 512 bytes/);
      assert.match(await validationMessage(client.collection(`remote-${name}`).get(over)), /at most 512 bytes/);
    });
  }

  test("generated _ids have one form, the store's, embedded and through the client", async () => {
    const embedded = await db.collection('generated').insert({ v: 1 });
    const remote = await client.collection('generated').insert({ v: 2 });
    assert.match(embedded._id, new RegExp(`^[A-Za-z0-9_-]{${ID_LENGTH}}$`));
    assert.match(remote._id, new RegExp(`^[A-Za-z0-9_-]{${ID_LENGTH}}$`));
  });

  test('the server refuses an over-long _id too (400), whatever the client', async () => {
    const over = 'é'.repeat(ID_BYTES_MAX / 2) + 'a';
    const res = await app.inject({ method: 'POST', url: '/api/raw', payload: { _id: over }, headers: { 'content-type': 'application/json' } });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /longer than 512 bytes/);
    const get = await app.inject({ method: 'GET', url: `/api/raw/${encodeURIComponent(over)}` });
    assert.equal(get.statusCode, 400);
  });
});
