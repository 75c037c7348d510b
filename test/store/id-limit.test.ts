// The one `_id` limit (src/store/id-limit.ts): ID_BYTES_MAX bytes of UTF-8, whatever the
// characters. The embedded database and the client are checked against the same bound in
// test/client/same-as-embedded.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { open } from '../../src/index.ts';
import { ValidationError } from '../../src/store/errors.ts';
import { ID_BYTES_MAX, idBytesOverMax } from '../../src/store/id-limit.ts';
import { validateId } from '../../src/store/validate.ts';
import { idsAtLimit } from './shared-forms.ts';
describe('_id limit in UTF-8 bytes', () => {
  test('the limit is 512 bytes', () => {
    assert.equal(ID_BYTES_MAX, 512);
  });

  for (const [what, id] of idsAtLimit()) {
    test(`${what}: exactly the limit is accepted, one byte more refused`, () => {
      assert.equal(Buffer.byteLength(id, 'utf8'), ID_BYTES_MAX);
      assert.equal(idBytesOverMax(id), false);
      validateId(id);
      const over = id + 'a';
      assert.equal(idBytesOverMax(over), true);
      assert.throws(
        () => validateId(over),
        (e: unknown) => e instanceof ValidationError && /^_id: longer than 512 bytes/.test(e.message),
      );
    });
  }

  test('a multi-byte character that would cross the limit is refused', () => {
    const id = 'a'.repeat(ID_BYTES_MAX - 1) + 'é'; // 513 bytes in 512 characters
    assert.equal(id.length, ID_BYTES_MAX);
    assert.throws(() => validateId(id), /longer than 512 bytes/);
  });

  test('embedded: insert takes an id of exactly the limit and refuses one byte more', async () => {
    const db = await open({ memory: true });
    try {
      const c = db.collection('ids');
      for (const [, id] of idsAtLimit()) {
        const doc = await c.insert({ _id: id, v: 1 });
        assert.equal(doc._id, id);
        assert.equal((await c.get(id))?._id, id);
        await assert.rejects(c.insert({ _id: id + 'a' }), (e: unknown) => e instanceof ValidationError && /longer than 512 bytes/.test(e.message));
      }
    } finally {
      await db.close();
    }
  });
});
