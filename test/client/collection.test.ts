// Each collection method against the fake server: the request it sends (method, path,
// headers, body) and how it reads the answer.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Client } from '../../src/client/index.ts';
import { NotFoundError, PreconditionFailedError, ValidationError } from '../../src/client/index.ts';
import { FakeNode, type RecordedRequest } from './fake-server.ts';

describe('client collection API against the fake server', () => {
  let node: FakeNode;
  let client: Client;

  before(async () => {
    node = await FakeNode.start();
    client = connect(node.url, { retries: 0 });
  });
  after(async () => {
    await client.close();
    await node.close();
  });
  beforeEach(() => {
    node.requests.length = 0;
  });

  const last = (): RecordedRequest => {
    const request = node.requests.at(-1);
    assert.ok(request, 'no request recorded');
    return request;
  };

  test('insert: POST /api/:c with a client-generated _id; returns the stored document', async () => {
    const doc = await client.collection('users').insert({ name: 'ada', age: 36 });
    assert.equal(last().method, 'POST');
    assert.equal(last().path, '/api/users');
    assert.equal(last().headers['content-type'], 'application/json');
    const sent = last().body as { _id: string; name: string };
    assert.equal(typeof sent._id, 'string');
    assert.equal(sent.name, 'ada');
    assert.equal(doc._id, sent._id);
    assert.equal(typeof doc._rev, 'number');
    assert.equal(doc.age, 36);
  });

  test('insert keeps a given _id and does not mutate the argument', async () => {
    const input = { _id: 'given-1', v: 1 };
    const doc = await client.collection('users').insert(input);
    assert.equal(doc._id, 'given-1');
    assert.deepEqual(input, { _id: 'given-1', v: 1 });
    const plain: Record<string, unknown> = { v: 2 };
    await client.collection('users').insert(plain);
    assert.equal(plain._id, undefined);
  });

  test('generated ids are unique and increase', async () => {
    const docs = await client.collection('ordered').insertMany([{ i: 0 }, { i: 1 }, { i: 2 }]);
    const more = await client.collection('ordered').insert({ i: 3 });
    const ids = [...docs.map((d) => d._id), more._id];
    assert.equal(new Set(ids).size, 4);
    assert.deepEqual([...ids].sort(), ids);
  });

  test('insertMany: POST of an array, all-or-nothing; [] sends nothing', async () => {
    const docs = await client.collection('many').insertMany([{ a: 1 }, { _id: 'x', a: 2 }]);
    assert.ok(Array.isArray(last().body));
    assert.equal((last().body as unknown[]).length, 2);
    assert.deepEqual(
      docs.map((d) => d.a),
      [1, 2],
    );
    assert.equal(docs[1]?._id, 'x');
    const before = node.requests.length;
    assert.deepEqual(await client.collection('many').insertMany([]), []);
    assert.equal(node.requests.length, before);
  });

  test('get: GET /api/:c/:id (id encoded), consistency in the query; null when absent', async () => {
    await client.collection('g').insert({ _id: 'a/b c', v: 1 });
    const doc = await client.collection('g').get('a/b c', { consistency: 'lease' });
    assert.equal(last().method, 'GET');
    assert.equal(last().path, '/api/g/a%2Fb%20c');
    assert.equal(last().query.get('consistency'), 'lease');
    assert.equal(doc?.v, 1);
    assert.equal(await client.collection('g').get('missing'), null);
    assert.equal(last().query.get('consistency'), null, 'no consistency sent when none is set');
  });

  test('the default consistency from connect() is sent with reads', async () => {
    const local = connect(node.url, { consistency: 'local' });
    try {
      await local.collection('g').get('missing');
      assert.equal(last().query.get('consistency'), 'local');
      await local.collection('g').find({});
      assert.equal((last().body as { consistency?: string }).consistency, 'local');
      await local.collection('g').count({}, { consistency: 'linearizable' });
      assert.equal((last().body as { consistency?: string }).consistency, 'linearizable');
    } finally {
      await local.close();
    }
  });

  test('find: POST _query with filter, sort, skip, limit, projection', async () => {
    const c = client.collection('f');
    await c.insertMany([1, 2, 3, 4, 5].map((n) => ({ _id: `n${n}`, n, odd: n % 2 === 1 })));
    const docs = await c.find({ odd: true }, { sort: { n: -1 }, skip: 1, limit: 1, projection: { n: 1 } });
    assert.equal(last().path, '/api/f/_query');
    assert.deepEqual(last().body, { filter: { odd: true }, sort: { n: -1 }, skip: 1, limit: 1, projection: { n: 1 } });
    assert.deepEqual(docs, [{ _id: 'n3', n: 3 }]);
    assert.equal((await c.find()).length, 5);
    assert.deepEqual(last().body, { filter: {} });
  });

  test('findOne: limit 1, null when nothing matches', async () => {
    const c = client.collection('fo');
    await c.insert({ _id: 'one', k: 'v' });
    assert.equal((await c.findOne({ k: 'v' }))?._id, 'one');
    assert.equal((last().body as { limit: number }).limit, 1);
    assert.equal(await c.findOne({ k: 'nope' }), null);
  });

  test('count: POST _count, returns the number', async () => {
    const c = client.collection('cnt');
    await c.insertMany([{ k: 1 }, { k: 1 }, { k: 2 }]);
    assert.equal(await c.count({ k: 1 }), 2);
    assert.equal(last().path, '/api/cnt/_count');
    assert.deepEqual(last().body, { filter: { k: 1 } });
    assert.equal(await c.count(), 3);
  });

  test('explain: POST _explain, returns the plan object', async () => {
    const plan = await client.collection('ex').explain({ a: 1 }, { limit: 3 });
    assert.equal(last().path, '/api/ex/_explain');
    assert.deepEqual(last().body, { filter: { a: 1 }, limit: 3 });
    assert.equal(plan.plan, 'scan');
  });

  test('update: POST _update with multi/upsert; returns matched, modified, upsertedId', async () => {
    const c = client.collection('up');
    await c.insertMany([{ g: 1 }, { g: 1 }, { g: 2 }]);
    const r = await c.update({ g: 1 }, { $inc: { n: 1 } }, { multi: true });
    assert.equal(last().path, '/api/up/_update');
    assert.deepEqual(last().body, { filter: { g: 1 }, update: { $inc: { n: 1 } }, multi: true });
    assert.deepEqual(r, { matched: 2, modified: 2 });
    const u = await c.update({ g: 9 }, { $set: { x: 1 } }, { upsert: true });
    assert.equal(u.matched, 0);
    assert.equal(typeof u.upsertedId, 'string');
    assert.equal((await c.get(u.upsertedId!))?.x, 1);
  });

  test('updateById: PATCH with the operators, If-Match from ifRev', async () => {
    const c = client.collection('patch');
    const doc = await c.insert({ _id: 'p', n: 1 });
    const updated = await c.updateById('p', { $inc: { n: 2 } }, { ifRev: doc._rev });
    assert.equal(last().method, 'PATCH');
    assert.equal(last().path, '/api/patch/p');
    assert.equal(last().headers['if-match'], `"${doc._rev}"`);
    assert.deepEqual(last().body, { $inc: { n: 2 } });
    assert.equal(updated.n, 3);
    await assert.rejects(c.updateById('p', { $set: { n: 0 } }, { ifRev: doc._rev }), PreconditionFailedError);
    await assert.rejects(c.updateById('absent', { $set: { n: 0 } }), NotFoundError);
  });

  test('replace: upsert creates (PUT without If-Match), ifRev is a compare-and-set', async () => {
    const c = client.collection('rep');
    const created = await c.replace('r', { v: 1 }, { upsert: true });
    assert.equal(last().method, 'PUT');
    assert.equal(last().path, '/api/rep/r');
    assert.equal(last().headers['if-match'], undefined);
    assert.deepEqual(last().body, { v: 1, _id: 'r' });
    assert.equal(created.v, 1);
    const replaced = await c.replace('r', { v: 2 }, { ifRev: created._rev });
    assert.equal(last().headers['if-match'], `"${created._rev}"`);
    assert.equal(replaced.v, 2);
    await assert.rejects(c.replace('r', { v: 3 }, { ifRev: created._rev }), PreconditionFailedError);
  });

  test('replace without upsert: NotFoundError when absent, else a CAS on the current _rev', async () => {
    const c = client.collection('rep2');
    await assert.rejects(c.replace('none', { v: 1 }), NotFoundError);
    assert.equal(await c.get('none'), null, 'nothing was created');
    const doc = await c.insert({ _id: 'here', v: 1, extra: true });
    const replaced = await c.replace('here', { v: 2 });
    assert.equal(last().method, 'PUT');
    assert.equal(last().headers['if-match'], `"${doc._rev}"`);
    assert.deepEqual({ ...replaced, _rev: 0 }, { _id: 'here', v: 2, _rev: 0 });
    await assert.rejects(c.replace('here', { _id: 'other', v: 3 }), ValidationError);
  });

  test('replace without upsert retries its CAS when the document changed in between', async () => {
    const c = client.collection('rep3');
    await c.insert({ _id: 'd', v: 1 });
    // The first PUT meets a concurrent change: 412, so the client reads again and retries.
    node.inject({ method: 'PUT', action: { kind: 'reply', status: 412, body: { error: { code: 'PRECONDITION_FAILED', message: 'changed' } } } });
    const replaced = await c.replace('d', { v: 5 });
    assert.equal(replaced.v, 5);
    assert.deepEqual(
      node.lines().filter((line) => line.endsWith('/api/rep3/d')),
      ['GET /api/rep3/d', 'PUT /api/rep3/d', 'GET /api/rep3/d', 'PUT /api/rep3/d'],
    );
  });

  test('remove by id: DELETE (If-Match from ifRev), 1 then 0', async () => {
    const c = client.collection('rm');
    const doc = await c.insert({ _id: 'x' });
    await assert.rejects(c.remove('x', { ifRev: doc._rev + 100 }), PreconditionFailedError);
    assert.equal(await c.remove('x', { ifRev: doc._rev }), 1);
    assert.equal(last().method, 'DELETE');
    assert.equal(last().path, '/api/rm/x');
    assert.equal(last().headers['if-match'], `"${doc._rev}"`);
    assert.equal(await c.remove('x'), 0);
  });

  test('remove by filter: POST _delete with multi; returns the count', async () => {
    const c = client.collection('rmf');
    await c.insertMany([{ k: 1 }, { k: 1 }, { k: 1 }, { k: 2 }]);
    assert.equal(await c.remove({ k: 1 }, { multi: false }), 1);
    assert.deepEqual(last().body, { filter: { k: 1 }, multi: false });
    assert.equal(await c.remove({ k: 1 }), 2);
    assert.deepEqual(last().body, { filter: { k: 1 } });
    assert.equal(await c.count(), 1);
  });

  test('indexes: create (fields normalised to pairs), list, drop', async () => {
    const c = client.collection('idx');
    const index = await c.createIndex({ a: 1, 'b.c': -1 }, { unique: true, name: 'ab' });
    assert.equal(last().path, '/api/idx/_indexes');
    assert.deepEqual(last().body, {
      fields: [
        ['a', 1],
        ['b.c', -1],
      ],
      unique: true,
      name: 'ab',
    });
    assert.deepEqual(index, {
      name: 'ab',
      fields: [
        ['a', 1],
        ['b.c', -1],
      ],
      unique: true,
    });
    assert.deepEqual(await c.indexes(), [index]);
    await c.dropIndex('ab');
    assert.equal(last().method, 'DELETE');
    assert.equal(last().path, '/api/idx/_indexes/ab');
    assert.deepEqual(await c.indexes(), []);
    await assert.rejects(c.dropIndex('ab'), NotFoundError);
    await assert.rejects(c.createIndex({}), ValidationError);
    await assert.rejects(c.createIndex([['a', 2 as 1]]), ValidationError);
  });

  test('transaction: POST /api/_tx, inserts get an _id, results returned', async () => {
    const a = await client.collection('acc').insert({ _id: 'a', balance: 10 });
    const { results } = await client.transaction({
      ops: [
        { op: 'insert', collection: 'acc', doc: { balance: 0 } },
        { op: 'update', collection: 'acc', filter: { _id: 'a' }, update: { $inc: { balance: -5 } } },
      ],
      if: [{ collection: 'acc', id: 'a', rev: a._rev }],
    });
    assert.equal(last().path, '/api/_tx');
    const body = last().body as { ops: Array<{ doc?: { _id?: unknown } }>; if: unknown[] };
    assert.equal(typeof body.ops[0]?.doc?._id, 'string');
    assert.equal(body.if.length, 1);
    assert.equal(results.length, 2);
    assert.equal((await client.collection('acc').get('a'))?.balance, 5);
    const failed = client.transaction({
      ops: [{ op: 'update', collection: 'acc', filter: { _id: 'a' }, update: { $inc: { balance: 1 } } }],
      if: [{ collection: 'acc', id: 'a', rev: a._rev }],
    });
    await assert.rejects(failed, (error: unknown) => {
      assert.ok(error instanceof PreconditionFailedError);
      assert.equal((error as PreconditionFailedError & { status: number }).status, 409);
      return true;
    });
    await assert.rejects(client.transaction({ ops: [] }), ValidationError);
  });

  test('status: GET /cluster/status, typed', async () => {
    const status = await client.status();
    assert.equal(last().path, '/cluster/status');
    assert.equal(status.url, node.url);
    assert.equal(status.role, 'leader');
    assert.equal(status.leader?.url, node.url);
    assert.equal(typeof status.commitIndex, 'number');
    assert.equal(status.members.length, 1);
    const direct = await client.status({ url: node.url });
    assert.equal(direct.nodeId, 1);
  });

  test('arguments are validated before any request', async () => {
    const before = node.requests.length;
    assert.throws(() => client.collection('_private'), ValidationError);
    assert.throws(() => client.collection('a/b'), ValidationError);
    assert.throws(() => client.collection(''), ValidationError);
    const c = client.collection('valid');
    await assert.rejects(c.get(''), ValidationError);
    await assert.rejects(c.get(42 as unknown as string), ValidationError);
    await assert.rejects(c.get('_query'), ValidationError);
    await assert.rejects(c.insert([] as unknown as Record<string, unknown>), ValidationError);
    await assert.rejects(c.insert({ _id: 7 } as unknown as Record<string, unknown>), ValidationError);
    await assert.rejects(c.find({}, { limit: -1 }), ValidationError);
    await assert.rejects(c.find({}, { consistency: 'strong' as 'local' }), ValidationError);
    await assert.rejects(c.updateById('x', { $set: {} }, { ifRev: 1.5 }), ValidationError);
    await assert.rejects(c.remove('x', { ifRev: -1 }), ValidationError);
    assert.equal(node.requests.length, before, 'no request was sent');
    assert.throws(() => connect([]), TypeError);
    assert.throws(() => connect('ftp://host:1'), TypeError);
    assert.throws(() => connect('http://h:1', { backoff: { delayMsInitial: 10, delayMsMax: 1 } }), RangeError);
  });
});
