// Issue #14 on a real 3-node cluster through the client library: findPage() and pages()
// (keyset pages over POST _query, next from Next-Cursor) read on every node, a cursor
// taken on one node continued on another, inserts behind and ahead of the cursor between
// pages (every document there from the start seen once, none inserted behind seen).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestError, connect, type Client, type Page } from '../../src/client/index.ts';
import { useCluster } from './harness.ts';

const N = 25;
const LIMIT = 10;
const DOCS = Array.from({ length: N }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}`, rank: i % 8 }));
const ORDER = [...DOCS].sort((a, b) => a.rank - b.rank || (a._id < b._id ? -1 : 1)).map((d) => d._id);

const cluster = useCluster({ size: 3 });
const clients: Client[] = [];
after(async () => {
  for (const client of clients) await client.close();
});

test('client pages on a 3-node cluster: across nodes, under inserts between pages', async () => {
  await cluster().waitForLeader();
  const options = { timeout: 2000, retries: 20, backoff: { delayMsInitial: 20, delayMsMax: 200 } };
  const all = connect(cluster().urls(), options);
  clients.push(all);
  const perNode = cluster().nodes.map((n) => connect([n.url], options));
  clients.push(...perNode);
  const paged = all.collection('paged');
  await paged.insertMany(DOCS);
  await paged.createIndex({ rank: 1 });

  // A walk whose pages are read on node 1, 2, 3 in turn (linearizable reads on followers).
  const pages: Page[] = [];
  let cursor: string | undefined;
  for (let n = 0; n < 10; n++) {
    const page = await perNode[n % 3]!.collection('paged').findPage(
      {},
      { limit: LIMIT, sort: { rank: 1 }, ...(cursor !== undefined ? { cursor } : {}) },
    );
    pages.push(page);
    if (page.next === undefined) break;
    cursor = page.next;
  }
  assert.deepEqual(
    pages.map((p) => p.docs.length),
    [10, 10, 5],
  );
  assert.deepEqual(
    pages.flatMap((p) => p.docs.map((d) => d._id)),
    ORDER,
  );

  // pages() with inserts behind (rank -1) and ahead (rank 100) of the cursor between pages.
  const behind: string[] = [];
  const ahead: string[] = [];
  const seen: string[] = [];
  let n = 0;
  for await (const page of paged.pages({}, { limit: LIMIT, sort: { rank: 1 } })) {
    seen.push(...page.docs.map((d) => d._id));
    if (page.next === undefined) break;
    const early = { _id: `b${n}`, rank: -1 };
    const late = { _id: `a${n}`, rank: 100 };
    await paged.insertMany([early, late]);
    behind.push(early._id);
    ahead.push(late._id);
    n++;
  }
  assert.equal(new Set(seen).size, seen.length, `no document twice: ${seen.join(' ')}`);
  for (const id of ORDER) assert.ok(seen.includes(id), `${id} is seen`);
  for (const id of behind) assert.ok(!seen.includes(id), `${id} inserted behind the cursor is not seen`);
  for (const id of ahead) assert.ok(seen.includes(id), `${id} inserted ahead of the cursor is seen`);
  assert.ok(behind.length >= 2);

  await assert.rejects(
    perNode[1]!.collection('paged').findPage({}, { limit: LIMIT, sort: { rank: -1 }, cursor: pages[0]!.next! }),
    (e: unknown) => e instanceof BadRequestError && /another sort/.test(e.message),
  );
});
