// collection.aggregate(pipeline) in the client library (POST /api/:collection/_aggregate on a
// real server on 127.0.0.1) and in the embedded database: the same pipelines give the same
// answers, equal to values computed here; refused stages and the bounds are ValidationErrors;
// the pipeline is typed (a stage we do not run does not compile).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { connect, ValidationError as ClientValidationError, type AggregatePipeline, type Client } from '../../src/client/index.ts';
import { open, ValidationError, type Database } from '../../src/index.ts';
import { EmbeddedBackend } from '../../src/node/embedded-backend.ts';
import { createServer } from '../../src/server/index.ts';
import { AGGREGATE_STAGES_MAX } from '../../src/store/aggregate-validate.ts';

const ORDERS = Array.from({ length: 30 }, (_, i) => ({
  _id: `o${String(i).padStart(2, '0')}`,
  shop: `s${i % 3}`,
  total: i,
  tags: i % 2 === 0 ? ['a', 'b'] : ['c'],
}));

const BY_SHOP: AggregatePipeline = [
  { $match: { total: { $gte: 10 } } },
  { $group: { _id: '$shop', sum: { $sum: '$total' }, n: { $sum: 1 } } },
  { $sort: { _id: 1 } },
];
const TAGS: AggregatePipeline = [{ $unwind: '$tags' }, { $group: { _id: '$tags', n: { $sum: 1 } } }, { $sort: { n: -1, _id: 1 } }];
const PAGE: AggregatePipeline = [{ $sort: { total: -1 } }, { $skip: 3 }, { $limit: 2 }, { $project: { _id: 0, total: 1 } }];
const COUNT: AggregatePipeline = [{ $match: { shop: 's1' } }, { $count: 'n' }];

type ShopTotal = { _id: string; sum: number; n: number };

function expectedByShop(): ShopTotal[] {
  return ['s0', 's1', 's2'].map((shop) => {
    const xs = ORDERS.filter((o) => o.total >= 10 && o.shop === shop);
    return { _id: shop, sum: xs.reduce((a, o) => a + o.total, 0), n: xs.length };
  });
}
function expectedTags(): Array<{ _id: string; n: number }> {
  const counts = new Map<string, number>();
  for (const tag of ORDERS.flatMap((o) => o.tags)) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  return [...counts].map(([_id, n]) => ({ _id, n })).sort((a, b) => b.n - a.n || a._id.localeCompare(b._id));
}
const EXPECTED_PAGE = [...ORDERS]
  .sort((a, b) => b.total - a.total)
  .slice(3, 5)
  .map((o) => ({ total: o.total }));
const EXPECTED_COUNT = [{ n: ORDERS.filter((o) => o.shop === 's1').length }];

// Compile-time checks (tsc runs over the tests): stages we do not run, and malformed ones, do not type-check.
// @ts-expect-error $lookup reads another collection: not a stage of AggregatePipeline
const notAStage: AggregatePipeline = [{ $lookup: { from: 'x' } }];
// @ts-expect-error $limit takes a number
const badLimit: AggregatePipeline = [{ $limit: '3' }];
void notAStage;
void badLimit;

describe('aggregate()', () => {
  let db: Database;
  let app: FastifyInstance;
  let client: Client;

  before(async () => {
    db = await open({ memory: true });
    app = await createServer({ backend: new EmbeddedBackend(db, 'http://127.0.0.1:0') });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    client = connect(url, { backoff: { delayMsInitial: 10, delayMsMax: 50 } });
    await client.collection('orders').insertMany(ORDERS);
    await client.collection('orders').createIndex({ total: 1 });
  });
  after(async () => {
    await client.close();
    await app.close();
    await db.close();
  });

  test('client: the pipelines give the values computed here', async () => {
    const orders = client.collection('orders');
    const byShop = await orders.aggregate<ShopTotal>(BY_SHOP);
    assert.deepEqual(byShop, expectedByShop());
    assert.equal(byShop[0]!.sum + 0, expectedByShop()[0]!.sum); // typed: sum is a number
    assert.deepEqual(await orders.aggregate(TAGS), expectedTags());
    assert.deepEqual(await orders.aggregate(PAGE, { consistency: 'lease' }), EXPECTED_PAGE);
    assert.deepEqual(await orders.aggregate(COUNT, { consistency: 'local' }), EXPECTED_COUNT);
    // A collection that does not exist is empty: $count outputs nothing, as MongoDB's does.
    assert.deepEqual(await client.collection('none').aggregate(COUNT), []);
    assert.deepEqual(db.collection('none').aggregate(COUNT), []);
  });

  test('embedded: the same answers', () => {
    const orders = db.collection('orders');
    assert.deepEqual(orders.aggregate<ShopTotal>(BY_SHOP), expectedByShop());
    assert.deepEqual(orders.aggregate(TAGS), expectedTags());
    assert.deepEqual(orders.aggregate(PAGE), EXPECTED_PAGE);
    assert.deepEqual(orders.aggregate(COUNT), EXPECTED_COUNT);
  });

  test('refused stages and the stages bound: ValidationError in both, nothing retried', async () => {
    const refused = [
      [{ $out: 'copy' }] as unknown as AggregatePipeline,
      [{ $group: { _id: null, x: { $function: { body: 'return 1', args: [], lang: 'js' } } } }],
      Array.from({ length: AGGREGATE_STAGES_MAX + 1 }, () => ({ $skip: 0 })),
      'not a pipeline' as unknown as AggregatePipeline,
    ];
    for (const pipeline of refused) {
      await assert.rejects(client.collection('orders').aggregate(pipeline), ClientValidationError, JSON.stringify(pipeline).slice(0, 80));
      assert.throws(() => db.collection('orders').aggregate(pipeline), ValidationError, JSON.stringify(pipeline).slice(0, 80));
    }
    // At the bound exactly, it runs.
    const longest = Array.from({ length: AGGREGATE_STAGES_MAX }, () => ({ $skip: 0 }));
    assert.equal((await client.collection('orders').aggregate(longest)).length, ORDERS.length);
    assert.equal(db.collection('orders').aggregate(longest).length, ORDERS.length);
  });
});
