import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeRecords } from '../../src/log/record-scanner.ts';
import { open, ConflictError, ValidationError, PreconditionFailedError, NotFoundError } from '../../src/index.ts';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'cs-embedded-'));
}

describe('embedded database', () => {
  test('an insert without _id gets one, first, and the caller keeps its object as it was', async () => {
    const db = await open({ memory: true });
    try {
      const col = db.collection('c');
      const given = { name: 'n', tags: ['a'] };
      const withUndefined = { _id: undefined, name: 'u' };
      const [a, b] = [await col.insert(given), await col.insert(withUndefined as never)];
      for (const [doc, fields] of [
        [a, ['name', 'tags']],
        [b, ['name']],
      ] as const) {
        assert.deepEqual(Object.keys(doc), ['_id', '_rev', ...fields]);
        assert.match(doc._id, /^[-0-9A-Za-z_]{20}$/);
        assert.ok(Object.isFrozen(doc));
        assert.deepEqual(col.get(doc._id), doc);
      }
      assert.notEqual(a._id, b._id);
      assert.deepEqual(given, { name: 'n', tags: ['a'] });
      assert.deepEqual(Object.keys(withUndefined), ['_id', 'name']);
      // insertMany the same way.
      const [many] = await db.collection('m').insertMany([{ x: 1 }]);
      assert.deepEqual(Object.keys(many!), ['_id', '_rev', 'x']);
    } finally {
      await db.close();
    }
  });

  test('insert, get, find, update, replace, remove survive a reopen', async () => {
    const dir = await tempDir();
    try {
      const db = await open({ dir });
      const products = db.collection('products');
      const a = await products.insert({ name: 'apple', price: 3, tags: ['fruit'] });
      assert.equal(typeof a._id, 'string');
      assert.ok(a._rev >= 1);
      const [b, c] = await products.insertMany([
        { _id: 'b', name: 'bread', price: 2 },
        { _id: 'c', name: 'cheese', price: 9 },
      ]);
      assert.equal(b!._rev, a._rev + 1, 'each write is the next log entry');
      assert.equal(c!._rev, b!._rev, 'a batch is one command, one revision');
      const updated = await products.update({ price: { $lt: 5 } }, { $inc: { price: 1 } }, { multi: true });
      assert.deepEqual(updated, { matched: 2, modified: 2 });
      const replaced = await products.replace('c', { name: 'cheddar', price: 10 }, { ifRev: c!._rev });
      assert.equal(replaced.name, 'cheddar');
      assert.equal(await products.remove('b'), 1);
      const before = products.find({}, { sort: { price: 1 } });
      await db.close();

      const again = await open({ dir });
      const after = again.collection('products').find({}, { sort: { price: 1 } });
      assert.deepEqual(after, before);
      assert.deepEqual(
        after.map((d) => [d['name'], d['price']]),
        [
          ['apple', 4],
          ['cheddar', 10],
        ],
      );
      assert.equal(again.collection('products').get('b'), null);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('bad input is refused with typed errors and writes nothing', async () => {
    const db = await open({ memory: true });
    const col = db.collection('things');
    const logBefore = db.info().lastLogIndex;
    await assert.rejects(col.insert(JSON.parse('{"__proto__": {"x": 1}}')), ValidationError);
    await assert.rejects(col.insert({ nested: JSON.parse('{"constructor": 1}') }), /constructor/);
    await assert.rejects(col.insert({ $bad: 1 }), /\$bad/);
    await assert.rejects(col.insert({ _id: 5 } as never), /_id/);
    await assert.rejects(col.insert('nope' as never), ValidationError);
    await assert.rejects(col.insert({ big: 'x'.repeat(1024 * 1024 + 10) }), /bytes/);
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 70; i++) deep = (deep['d'] = {}) as Record<string, unknown>;
    await assert.rejects(col.insert(root as never), /depth|deep/);
    await assert.rejects(col.update({}, { $frobnicate: { a: 1 } }), /\$frobnicate/);
    assert.throws(() => col.find({ a: { $near: 1 } }), /\$near/);
    assert.throws(() => db.collection('_private'), ValidationError);
    assert.equal(col.count(), 0);
    assert.equal(db.info().lastLogIndex, logBefore, 'nothing invalid reached the log');
    await db.close();
  });

  test('unique index: duplicates conflict, a failed build changes nothing', async () => {
    const db = await open({ memory: true });
    const users = db.collection('users');
    await users.insertMany([{ email: 'a@x' }, { email: 'a@x' }]);
    await assert.rejects(users.createIndex('email', { unique: true }), ConflictError);
    assert.deepEqual(users.indexes(), []);
    await users.remove({ email: 'a@x' });
    await users.createIndex({ email: 1 }, { unique: true });
    await users.insert({ email: 'b@x' });
    await assert.rejects(users.insertMany([{ email: 'c@x' }, { email: 'b@x' }]), ConflictError);
    assert.equal(users.count({ email: 'c@x' }), 0, 'batch is all-or-nothing');
    assert.equal(users.explain({ email: 'b@x' }).plan, 'index');
    await db.close();
  });

  test('compare-and-set through ifRev', async () => {
    const db = await open({ memory: true });
    const col = db.collection('cas');
    const doc = await col.insert({ _id: 'k', v: 1 });
    await col.replace('k', { v: 2 }, { ifRev: doc._rev });
    await assert.rejects(col.replace('k', { v: 3 }, { ifRev: doc._rev }), PreconditionFailedError);
    await assert.rejects(col.remove('k', { ifRev: doc._rev }), PreconditionFailedError);
    assert.equal(col.get('k')!['v'], 2);
    await db.close();
  });

  test('transactions: read own writes, all-or-nothing, rollback on throw', async () => {
    const db = await open({ memory: true });
    const accounts = db.collection('accounts');
    await accounts.insertMany([
      { _id: 'a', balance: 10 },
      { _id: 'b', balance: 0 },
    ]);
    await db.transaction(async (tx) => {
      const t = tx.collection('accounts');
      t.updateById('a', { $inc: { balance: -4 } });
      t.updateById('b', { $inc: { balance: 4 } });
      assert.equal(t.get('a')!['balance'], 6, "reads see the transaction's own writes");
      assert.deepEqual(
        t.find({ balance: 4 }).map((d) => d._id),
        ['b'],
      );
      t.insert({ _id: 'log1', amount: 4 });
    });
    assert.equal(accounts.get('a')!['balance'], 6);
    assert.equal(accounts.get('b')!['balance'], 4);
    assert.equal(db.collection('accounts').get('log1')!['amount'], 4);

    await assert.rejects(
      db.transaction(async (tx) => {
        tx.collection('accounts').updateById('a', { $inc: { balance: -100 } });
        throw new Error('insufficient funds');
      }),
      /insufficient funds/,
    );
    assert.equal(accounts.get('a')!['balance'], 6, 'a throw inside discards the writes');
    await assert.rejects(
      db.transaction((tx) => tx.collection('accounts').updateById('zzz', { $set: { x: 1 } })),
      NotFoundError,
    );
    await db.close();
  });

  test('transactions retry on conflict and give up with a ConflictError', async () => {
    const db = await open({ memory: true });
    const counters = db.collection('counters');
    await counters.insert({ _id: 'n', value: 0 });
    // 20 concurrent read-modify-write transactions: none may be lost.
    await Promise.all(
      Array.from({ length: 20 }, () =>
        db.transaction(
          async (tx) => {
            const t = tx.collection('counters');
            const current = t.get('n')!;
            await new Promise((r) => setImmediate(r));
            t.replace('n', { value: (current['value'] as number) + 1 });
          },
          { retries: 100 },
        ),
      ),
    );
    assert.equal(counters.get('n')!['value'], 20);

    let attempts = 0;
    await assert.rejects(
      db.transaction(
        async (tx) => {
          attempts++;
          tx.collection('counters').get('n');
          await counters.update({ _id: 'n' }, { $inc: { value: 1 } }); // a concurrent writer always wins
          tx.collection('counters').replace('n', { value: -1 });
        },
        { retries: 3 },
      ),
      ConflictError,
    );
    assert.equal(attempts, 4);
    assert.notEqual(counters.get('n')!['value'], -1);
    await db.close();
  });

  test('snapshot compacts the log and the state survives reopen', async () => {
    const dir = await tempDir();
    try {
      const db = await open({ dir, snapshotThreshold: 0 });
      const col = db.collection('items');
      await col.createIndex('k');
      for (let i = 0; i < 50; i++) await col.insert({ _id: `i${i}`, k: i % 5 });
      const applied = db.info().appliedIndex;
      const snap = await db.snapshot();
      assert.equal(snap.index, applied);
      assert.ok(snap.bytes > 0);
      const after = await col.insert({ _id: 'after', k: 1 });
      assert.equal(after._rev, snap.index + 1);
      assert.equal(db.info().firstLogIndex, snap.index + 1, 'the log before the snapshot is gone');
      await db.close();
      const again = await open({ dir });
      assert.equal(again.collection('items').count(), 51);
      assert.equal(again.collection('items').get('after')!._rev, after._rev);
      assert.equal(again.collection('items').explain({ k: 1 }).plan, 'index');
      assert.ok(again.info().appliedIndex >= after._rev, 'reopened: the snapshot and the entry after it are applied');
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('automatic snapshots keep the log short', async () => {
    const dir = await tempDir();
    try {
      const db = await open({ dir, snapshotThreshold: 100 });
      const col = db.collection('items');
      for (let i = 0; i < 350; i++) await col.insert({ i });
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(db.info().snapshotIndex >= 300, `snapshot at ${db.info().snapshotIndex}`);
      await db.close();
      const again = await open({ dir });
      assert.equal(again.collection('items').count(), 350);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('snapshots keep being taken while writes never stop', async () => {
    const dir = await tempDir();
    try {
      const db = await open({ dir, sync: 'none', snapshotThreshold: 300 });
      const col = db.collection('busy');
      let stop = false;
      const writers = Array.from({ length: 8 }, async () => {
        while (!stop) await col.insert({ a: 1 });
      });
      const seen: number[] = [];
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 250));
        seen.push(db.info().snapshotIndex);
      }
      const during = db.info();
      stop = true;
      await Promise.all(writers);
      // Under load, not only once it stops: the snapshot index moved more than once, and the
      // log stays within about a threshold and a snapshot's encoding of the applied index.
      assert.ok(new Set(seen.filter((x) => x > 0)).size >= 2, `snapshot index while writing: ${seen.join(', ')}`);
      assert.ok(during.firstLogIndex > during.appliedIndex / 2, `log starts at ${during.firstLogIndex} of ${during.appliedIndex}`);
      await db.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a corrupt log in the middle refuses to open, naming the file', async () => {
    const dir = await tempDir();
    try {
      const db = await open({ dir });
      for (let i = 0; i < 20; i++) await db.collection('c').insert({ i, pad: 'p'.repeat(100) });
      await db.close();
      const segments = (await readdir(join(dir, 'log'))).filter((f) => f.endsWith('.seg'));
      const file = join(dir, 'log', segments[0]!);
      const { readFile } = await import('node:fs/promises');
      const bytes = await readFile(file);
      // The segment is zero-filled past its data: flip a byte in the middle of the data.
      const dataEnd = decodeRecords(bytes, () => {}).end;
      assert.ok(dataEnd > 20 * 100 && dataEnd < bytes.length, `data ends at ${dataEnd} of ${bytes.length}`);
      bytes[Math.floor(dataEnd / 2)]! ^= 0xff;
      await writeFile(file, bytes);
      await assert.rejects(open({ dir }), (error: Error) => error.message.includes(segments[0]!) && /offset/.test(error.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('open() without a directory is a clear error', async () => {
    await assert.rejects(open({}), /dir/);
  });
});
