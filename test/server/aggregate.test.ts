// Aggregation: the stages run on mingo (results checked against values computed here), a
// leading $match uses an index (its plan, with `explain: true`),
// forbidden and unknown stages are 400 naming them, and the bounds hold (embedded and HTTP).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { open } from '../../src/index.ts';
import { aggregate, AGGREGATE_DOCS_MAX } from '../../src/store/aggregate.ts';
import { StoreError } from '../../src/store/errors.ts';
import { errorOf, send, startTestServer } from './helpers.ts';

const ORDERS = Array.from({ length: 40 }, (_, i) => ({
  _id: `o${String(i).padStart(2, '0')}`,
  shop: `s${i % 3}`,
  total: i,
  tags: i % 2 === 0 ? ['a', 'b'] : ['a'],
}));

test('HTTP: $match, $group, $sort, $project, $skip, $limit, $unwind, $count', async () => {
  const s = await startTestServer();
  try {
    await send(s.app, 'POST', '/api/orders', ORDERS);
    await send(s.app, 'POST', '/api/orders/_indexes', { fields: { total: 1 } });
    const res = await send(s.app, 'POST', '/api/orders/_aggregate', {
      pipeline: [{ $match: { total: { $gte: 10 } } }, { $group: { _id: '$shop', sum: { $sum: '$total' }, n: { $sum: 1 } } }, { $sort: { _id: 1 } }],
    });
    assert.equal(res.statusCode, 200, res.body);
    const want = ['s0', 's1', 's2'].map((shop) => {
      const xs = ORDERS.filter((o) => o.total >= 10 && o.shop === shop);
      return { _id: shop, sum: xs.reduce((a, o) => a + o.total, 0), n: xs.length };
    });
    assert.deepEqual(res.json(), want);
    const unwound = await send(s.app, 'POST', '/api/orders/_aggregate', { pipeline: [{ $unwind: '$tags' }, { $count: 'n' }] });
    assert.deepEqual(unwound.json(), [{ n: ORDERS.reduce((a, o) => a + o.tags.length, 0) }]);
    const paged = await send(s.app, 'POST', '/api/orders/_aggregate', {
      pipeline: [{ $sort: { total: -1 } }, { $skip: 2 }, { $limit: 3 }, { $project: { _id: 0, total: 1 } }],
    });
    assert.deepEqual(paged.json(), [{ total: 37 }, { total: 36 }, { total: 35 }]);
  } finally {
    await s.close();
  }
});

test('explain: the leading $match uses an index when there is one (its plan, as _explain gives it); the other stages do not run', async () => {
  const s = await startTestServer();
  try {
    await send(s.app, 'POST', '/api/orders', ORDERS);
    const pipeline = [{ $match: { total: { $gte: 35 } } }, { $group: { _id: '$shop', n: { $sum: 1 } } }, { $sort: { _id: 1 } }];
    const scan = await send(s.app, 'POST', '/api/orders/_aggregate', { pipeline, explain: true });
    assert.equal(scan.statusCode, 200, scan.body);
    assert.deepEqual(scan.json().stages, ['$group', '$sort']);
    assert.equal(scan.json().match.plan, 'scan');
    assert.equal(scan.json().match.docsExamined, ORDERS.length);
    await send(s.app, 'POST', '/api/orders/_indexes', { fields: { total: 1 } });
    const indexed = (await send(s.app, 'POST', '/api/orders/_aggregate', { pipeline, explain: true })).json();
    assert.equal(indexed.match.plan, 'index');
    assert.equal(indexed.match.docsExamined, 5, JSON.stringify(indexed.match));
    assert.equal(indexed.match.nReturned, 5);
    // The answer it explains: the same with and without the index.
    assert.deepEqual((await send(s.app, 'POST', '/api/orders/_aggregate', { pipeline })).json(), [
      { _id: 's0', n: 2 },
      { _id: 's1', n: 1 },
      { _id: 's2', n: 2 },
    ]);
    const bad = await send(s.app, 'POST', '/api/orders/_aggregate', { pipeline, explain: 'yes' });
    assert.equal(bad.statusCode, 400);
    assert.match(errorOf(bad).message, /explain/);
  } finally {
    await s.close();
  }
});

test('forbidden and unknown stages and operators are 400 naming them', async () => {
  const s = await startTestServer();
  try {
    await send(s.app, 'POST', '/api/orders', ORDERS.slice(0, 3));
    for (const [stage, pattern] of [
      [{ $lookup: { from: 'x' } }, /\$lookup is not allowed/],
      [{ $out: 'x' }, /\$out is not allowed/],
      [{ $merge: 'x' }, /\$merge is not allowed/],
      [{ $where: 'true' }, /\$where is not allowed/],
      [{ $group: { _id: null, x: { $accumulator: {} } } }, /\$accumulator: not allowed/],
      [{ $project: { x: { $function: { body: 'return 1', args: [], lang: 'js' } } } }, /\$function: not allowed/],
      [{ $bogus: 1 }, /unknown stage/],
      [{ $match: { $where: 'true' } }, /where/],
    ] as const) {
      const res = await send(s.app, 'POST', '/api/orders/_aggregate', { pipeline: [stage] });
      assert.equal(res.statusCode, 400, JSON.stringify(stage));
      assert.match(errorOf(res).message, pattern);
    }
    const long = await send(s.app, 'POST', '/api/orders/_aggregate', { pipeline: Array.from({ length: 21 }, () => ({ $skip: 0 })) });
    assert.match(errorOf(long).message, /AGGREGATE_STAGES_MAX/);
  } finally {
    await s.close();
  }
});

test('embedded aggregate() agrees, and the documents bound is enforced', async () => {
  const db = await open({ memory: true });
  try {
    await db.collection('orders').insertMany(ORDERS);
    assert.deepEqual(aggregate(db.store, 'orders', [{ $match: { shop: 's1' } }, { $count: 'n' }]), [
      { n: ORDERS.filter((o) => o.shop === 's1').length },
    ]);
    const bounds = { docsMax: 5, outputBytesMax: 1 << 20, timeMsMax: 1000 };
    assert.throws(
      () => aggregate(db.store, 'orders', [{ $match: {} }], bounds),
      (e: unknown) => e instanceof StoreError && /AGGREGATE_DOCS_MAX/.test(e.message),
    );
    assert.equal(aggregate(db.store, 'orders', [{ $match: { total: { $lt: 5 } } }], bounds).length, 5);
    assert.ok(AGGREGATE_DOCS_MAX >= 10_000);
  } finally {
    await db.close();
  }
});

test('$count as MongoDB: nothing for no input, the count otherwise, also after other stages (HTTP and embedded)', async () => {
  const s = await startTestServer();
  try {
    await send(s.app, 'POST', '/api/orders', ORDERS);
    const cases: Array<[unknown[], unknown[]]> = [
      [[{ $match: { shop: 'nowhere' } }, { $count: 'n' }], []],
      [[{ $count: 'n' }], [{ n: ORDERS.length }]],
      [[{ $unwind: '$tags' }, { $match: { tags: 'b' } }, { $count: 'withB' }], [{ withB: ORDERS.filter((o) => o.tags.includes('b')).length }]],
      [[{ $match: { total: { $gte: 0 } } }, { $count: 'n' }, { $project: { doubled: { $multiply: ['$n', 2] } } }], [{ doubled: 2 * ORDERS.length }]],
    ];
    for (const [pipeline, want] of cases) {
      const res = await send(s.app, 'POST', '/api/orders/_aggregate', { pipeline });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), want, JSON.stringify(pipeline));
      assert.deepEqual(aggregate(s.db.store, 'orders', pipeline), want, JSON.stringify(pipeline));
    }
    const none = await send(s.app, 'POST', '/api/none/_aggregate', { pipeline: [{ $count: 'n' }] });
    assert.deepEqual(none.json(), []);
  } finally {
    await s.close();
  }
});
