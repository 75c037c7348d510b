// Issue #14 on a real 3-node cluster: a client watch() is streaming from the leader when the
// leader is killed (SIGKILL) while writers keep inserting; the watch resumes on another node
// and, compared with the writes, hands out every committed change exactly once, in log order,
// across the leader change: each acknowledged insert, each uncertain one that committed, and
// nothing else. Then aggregate() counts them, and dropping the collection is one Dropped event.
// Before it, the same with the node the watch reads from SIGSTOPped instead (its connection
// stays open and silent): the watch drops it after idleTimeoutMs and resumes on another. First,
// through a follower: the cluster-wide change stream, GET /api, cursor pages and /openapi.json.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type ChangeEvent, type Client } from '../../src/client/index.ts';
import { acquireClusterLock, eventually, http, sleep, TestCluster, WriteLoad } from './harness.ts';

const COLLECTION = 'watched';
const END_ID = 'zz-end';

let cluster: TestCluster;
let release: (() => void) | undefined;
let client: Client | undefined;
before(async () => {
  release = await acquireClusterLock();
  cluster = await TestCluster.start({ size: 3 });
});
after(async () => {
  await client?.close();
  await cluster?.close();
  release?.();
});

/** `a` before `b` in the log: by sequence (log index), then position in the entry. */
function before_(a: ChangeEvent, b: ChangeEvent): boolean {
  return a.sequence < b.sequence || (a.sequence === b.sequence && a.position < b.position);
}

test('through a follower: the cluster-wide change stream, GET /api counts, cursor pages under concurrent inserts, /openapi.json', async () => {
  const leader = await cluster.waitForLeader();
  const follower = cluster.nodes.find((n) => n.id !== leader.nodeId)!;
  client = connect([follower.url], { timeout: 2000, retries: 20, backoff: { delayMsInitial: 20, delayMsMax: 200 } });
  const ids = Array.from({ length: 12 }, (_, i) => `p${String(i).padStart(2, '0')}`);
  for (const id of ids) assert.equal((await http(leader.url, 'POST', '/api/paged', { _id: id, n: Number(id.slice(1)) })).status, 201);
  assert.equal((await http(leader.url, 'POST', '/api/other', { _id: 'o1' })).status, 201);

  // GET /api/_changes on the follower (the client's cluster-wide watch): both collections'
  // changes, in log order, from the start of the log.
  const seen: ChangeEvent[] = [];
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 10_000);
  for await (const event of client.watch({ resumeAfter: '0', signal: controller.signal })) {
    seen.push(event);
    if (event.collection === 'other') break;
  }
  clearTimeout(timer);
  assert.deepEqual(
    seen.filter((e) => e.collection === 'paged').map((e) => e.aggregateId),
    ids,
  );
  assert.equal(seen.at(-1)?.aggregateId, 'o1');

  // GET /api on the follower: every collection with its count.
  const listing = await eventually('GET /api to list both collections', async () => {
    const r = await http(follower.url, 'GET', '/api?consistency=linearizable');
    const rows = r.body as Array<{ name: string; count: number }>;
    return r.status === 200 && rows.some((c) => c.name === 'other') ? rows : undefined;
  });
  assert.equal(listing.find((c) => c.name === 'paged')?.count, ids.length);
  assert.equal(listing.find((c) => c.name === 'other')?.count, 1);

  // Cursor pages on the follower while the leader inserts ahead of and behind the cursor:
  // every document there at the start exactly once, in _id order.
  const pagedIds: string[] = [];
  let next: string | null = `/api/paged?limit=5&consistency=linearizable`;
  for (let page = 0; next !== null; page++) {
    assert.ok(page < 20, 'more pages than documents');
    const r: Response = await fetch(follower.url + next);
    assert.equal(r.status, 200);
    pagedIds.push(...((await r.json()) as Array<{ _id: string }>).map((d) => d._id));
    const link = r.headers.get('link');
    next = link === null ? null : /^<([^>]+)>; rel="next"$/.exec(link)![1]!;
    // One behind the cursor (never seen), one ahead of it (seen on a later page).
    assert.equal((await http(leader.url, 'POST', '/api/paged', { _id: `a${page}` })).status, 201);
    assert.equal((await http(leader.url, 'POST', '/api/paged', { _id: `q${page}` })).status, 201);
  }
  assert.deepEqual(
    pagedIds.filter((id) => id.startsWith('p')),
    ids,
  );
  assert.equal(new Set(pagedIds).size, pagedIds.length, `a document on two pages: ${pagedIds.join(',')}`);
  assert.ok(!pagedIds.some((id) => id.startsWith('a')), `an insert behind the cursor was seen: ${pagedIds.join(',')}`);
  assert.ok(
    pagedIds.some((id) => id.startsWith('q')),
    `no insert ahead of the cursor was seen: ${pagedIds.join(',')}`,
  );

  // The API description, from the follower too.
  const openapi = await http(follower.url, 'GET', '/openapi.json');
  assert.equal(openapi.status, 200);
  const doc = openapi.body as { openapi: string; paths: Record<string, unknown> };
  assert.match(doc.openapi, /^3\.1\./);
  assert.ok(Object.hasOwn(doc.paths, '/api/{collection}/_changes'), Object.keys(doc.paths).join(' '));
  await client.close();
  client = undefined;
});

test('watch() from a node that is SIGSTOPped: it moves to another after idleTimeoutMs, every change once, in order', async () => {
  const IDLE_MS = 1500;
  const collection = 'watched-paused';
  const leader = await cluster.waitForLeader();
  const stopped = cluster.nodes.find((n) => n.id !== leader.nodeId)!;
  // The follower first: the stream opens there; pausing it leaves the cluster a majority.
  const urls = [stopped.url, ...cluster.nodes.filter((n) => n.id !== stopped.id).map((n) => n.url)];
  const watcher = connect(urls, { timeout: 2000, retries: 20, backoff: { delayMsInitial: 20, delayMsMax: 200 } });
  const controller = new AbortController();
  const events: ChangeEvent[] = [];
  // Writes to the leader only: none waits in the stopped node, to commit after the end.
  const load = new WriteLoad(collection, '', 2, () => cluster.live().filter((n) => n.id === leader.nodeId), { timeoutMs: 2000 });
  try {
    const watching = (async () => {
      for await (const event of watcher.collection(collection).watch({ resumeAfter: '0', signal: controller.signal, idleTimeoutMs: IDLE_MS })) {
        events.push(event);
        if (event.aggregateId === END_ID) return;
      }
    })();
    await sleep(1000);
    const beforePause = events.length;
    assert.ok(beforePause > 0, 'no event before the pause');
    const pausedAt = Date.now();
    cluster.pause(stopped.id);
    // A few events may have been on their way already; then nothing until the watch moves on.
    const resumedAfterMs = await eventually(
      'events from another node',
      () => Promise.resolve(events.length > beforePause + 20 ? Date.now() - pausedAt : undefined),
      IDLE_MS + 10_000,
    );
    await load.stop();
    const end = await http(cluster.node(leader.nodeId).url, 'POST', `/api/${collection}`, { _id: END_ID });
    assert.equal(end.status, 201, JSON.stringify(end.body));
    const timeout = setTimeout(() => controller.abort(), 20_000);
    await watching;
    clearTimeout(timeout);
    assert.equal(events.at(-1)?.aggregateId, END_ID, `the watch stopped after ${events.length} events (${load.summary()})`);
    for (let i = 1; i < events.length; i++) {
      assert.ok(before_(events[i - 1]!, events[i]!), `event ${events[i]!.eventId} after ${events[i - 1]!.eventId}`);
    }
    const created = new Set(events.map((e) => e.aggregateId));
    assert.equal(created.size, events.length, 'a document created twice');
    const acknowledged = load.acknowledged();
    const uncertain = new Set(load.uncertain());
    for (const id of acknowledged) assert.ok(created.has(id), `acknowledged ${id} never seen by the watch (${load.summary()})`);
    const acked = new Set(acknowledged);
    for (const id of created) if (id !== END_ID) assert.ok(acked.has(id) || uncertain.has(id), `${id} seen but never written`);
    console.log(
      `# paused node ${stopped.id}: the watch went on after ${resumedAfterMs} ms (idleTimeoutMs ${IDLE_MS}); ${events.length} events, ${load.summary()}`,
    );
  } finally {
    controller.abort();
    await load.stop();
    if (cluster.node(stopped.id).paused) cluster.resume(stopped.id);
    await watcher.close();
  }
});

test('watch() across a kill -9 of the leader: every change once, in order, as the writes say', async () => {
  const leader = await cluster.waitForLeader();
  const oldLeader = cluster.node(leader.nodeId);
  // The leader first: the stream opens there (the client picks its first URL), so the kill
  // breaks the very connection the watch reads.
  const urls = [oldLeader.url, ...cluster.nodes.filter((n) => n.id !== oldLeader.id).map((n) => n.url)];
  client = connect(urls, { timeout: 2000, retries: 20, backoff: { delayMsInitial: 20, delayMsMax: 200 } });

  const controller = new AbortController();
  const events: ChangeEvent[] = [];
  // From the start of the log: nothing written before the stream opened is missed either.
  const watching = (async () => {
    for await (const event of client.collection(COLLECTION).watch({ resumeAfter: '0', signal: controller.signal })) {
      events.push(event);
      if (event.aggregateId === END_ID) return;
    }
  })();

  const load = new WriteLoad(COLLECTION, '', 4, () => cluster.live(), { timeoutMs: 2000 });
  await sleep(1500);
  const beforeKill = events.length;
  // The leader now: on a busy machine an election may have moved it since the stream opened
  // (CI saw it once); the watch's guarantees hold either way, and it is the leader that dies.
  const killed = cluster.node((await cluster.waitForLeader()).nodeId);
  await cluster.kill(killed.id);
  const newLeader = await cluster.waitForLeader({ timeoutMs: 15_000 });
  assert.notEqual(newLeader.nodeId, killed.id);
  await sleep(2000); // writes continue on the new leader
  await load.stop();
  // A last write, after every other: once the watch hands it out, everything before it is in.
  const end = await http(cluster.node(newLeader.nodeId).url, 'POST', `/api/${COLLECTION}`, { _id: END_ID });
  assert.equal(end.status, 201, JSON.stringify(end.body));
  const timeout = setTimeout(() => controller.abort(), 20_000);
  await watching;
  clearTimeout(timeout);
  assert.equal(events.at(-1)?.aggregateId, END_ID, `the watch stopped after ${events.length} events (${load.summary()})`);

  const acknowledged = load.acknowledged();
  const uncertain = new Set(load.uncertain());
  assert.ok(beforeKill > 0, 'no event arrived before the kill');
  assert.ok(acknowledged.length >= 20, `too few writes acknowledged: ${load.summary()}`);

  // In log order, strictly: no event twice, none out of order.
  for (let i = 1; i < events.length; i++) {
    assert.ok(before_(events[i - 1]!, events[i]!), `event ${events[i]!.eventId} after ${events[i - 1]!.eventId}`);
  }
  // Both leaders' entries came through the one watch.
  assert.ok(
    events.some((e) => e.nodeId === killed.id),
    'no event of the killed leader',
  );
  assert.ok(
    events.some((e) => e.nodeId === newLeader.nodeId && e.term > leader.term),
    'no event of the new leader',
  );

  // Exactly once per document: inserts only, so one Created each.
  const created = new Map<string, ChangeEvent>();
  for (const e of events) {
    assert.equal(e.eventType, 'Created', `${e.eventId}: ${e.eventType}`);
    assert.ok(!created.has(e.aggregateId), `${e.aggregateId} created twice (${created.get(e.aggregateId)?.eventId}, ${e.eventId})`);
    created.set(e.aggregateId, e);
  }
  // Every acknowledged write, with the data sent; the rest only writes whose outcome was unknown.
  for (const id of acknowledged) {
    const e = created.get(id);
    assert.ok(e !== undefined, `acknowledged ${id} never seen by the watch (${load.summary()})`);
    const [, writer, seq] = /^w(\d+)-(\d+)$/.exec(id)!;
    assert.equal(e.data?.['writer'], Number(writer));
    assert.equal(e.data?.['seq'], Number(seq));
  }
  const acked = new Set(acknowledged);
  for (const id of created.keys()) {
    if (id !== END_ID) assert.ok(acked.has(id) || uncertain.has(id), `${id} seen but never written`);
  }
  // Each writer waits for an answer before its next insert: its inserts appear in its order.
  const lastSeq = new Map<string, number>();
  for (const e of events) {
    const m = /^w(\d+)-(\d+)$/.exec(e.aggregateId);
    if (m === null) continue;
    const prev = lastSeq.get(m[1]!) ?? -1;
    assert.ok(Number(m[2]) > prev, `writer ${m[1]}: seq ${m[2]} after ${prev}`);
    lastSeq.set(m[1]!, Number(m[2]));
  }
  // And the watch saw exactly what the cluster holds.
  const stored = await http(cluster.node(newLeader.nodeId).url, 'GET', `/api/${COLLECTION}`);
  assert.equal(stored.status, 200);
  const storedIds = (stored.body as Array<{ _id: string }>).map((d) => d._id).sort();
  assert.deepEqual([...created.keys()].sort(), storedIds);
  // The client's aggregate() over the same cluster counts what the watch saw.
  assert.deepEqual(await client.collection(COLLECTION).aggregate([{ $count: 'n' }], { consistency: 'linearizable' }), [{ n: created.size }]);

  // Dropping the collection, asked of a follower (forwarded): one Dropped event after the last
  // change, to a watch that resumes after it.
  const follower = cluster.live().find((n) => n.id !== newLeader.nodeId)!;
  const resumed = client.collection(COLLECTION).watch({ resumeAfter: events.at(-1)!.eventId });
  assert.equal((await http(follower.url, 'DELETE', `/api/${COLLECTION}`)).status, 204);
  const dropped = await Promise.race([resumed.next(), sleep(10_000).then(() => undefined)]);
  assert.ok(dropped !== undefined && dropped.done !== true, 'no event after the drop');
  assert.equal(dropped.value.eventType, 'Dropped');
  assert.equal(dropped.value.collection, COLLECTION);
  assert.ok(dropped.value.sequence > events.at(-1)!.sequence);
  await resumed.return();
  console.log(`# ${load.summary()}; ${events.length} events, ${beforeKill} before the kill of node ${killed.id}`);
});
