// The client's watch() (src/client/watch.ts) against real servers on 127.0.0.1: the
// collection's and the database's changes, resume tokens, failover to another node without
// loss or duplicates, 410 as ChangesExpiredError. And against fake nodes (a few lines of
// node:http) that go silent after the headers, answer 410, or end every stream at once: the
// idle timeout, the 410 asked of every node, the backoff before a reconnect.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ChangesExpiredError, connect, UnavailableError, type ChangeEvent } from '../../src/client/index.ts';
import { parseSseBlock } from '../../src/client/watch-sse.ts';
import { open, type Database } from '../../src/index.ts';
import { EmbeddedBackend } from '../../src/node/embedded-backend.ts';
import { createServer } from '../../src/server/index.ts';

async function serve(db: Database, heartbeatMs?: number): Promise<{ app: FastifyInstance; url: string }> {
  const app = await createServer({
    backend: new EmbeddedBackend(db, 'http://127.0.0.1:0'),
    ...(heartbeatMs !== undefined ? { changeStream: { heartbeatMs } } : {}),
  });
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

/** How a fake node answers a change stream request, after the events past its resume token. */
type FakeMode =
  /** Headers, `: connected`, up to `events` events, then nothing (the connection stays open). */
  | { kind: 'silent'; events?: number; gapMs?: number }
  /** Headers, `: connected`, up to `events` events, then the end of the response. */
  | { kind: 'end'; events?: number }
  /** 410 CHANGES_EXPIRED. */
  | { kind: 'expired' };

interface FakeNode {
  readonly url: string;
  /** Per request: its resumeAfter, and when it came (performance.now()). */
  readonly requests: Array<{ resumeAfter: string | null; at: number }>;
  close(): Promise<void>;
}

function sseEvent(event: ChangeEvent): string {
  return `id: ${event.eventId}\nevent: change\ndata: ${JSON.stringify(event)}\n\n`;
}

/** A node that serves `events` (real ones, as a server derived them) the way `modes` says, per request (the last mode repeats). */
async function fakeNode(events: readonly ChangeEvent[], modes: readonly FakeMode[]): Promise<FakeNode> {
  const requests: FakeNode['requests'] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const resumeAfter = new URL(req.url ?? '/', 'http://x').searchParams.get('resumeAfter');
    const mode = modes[Math.min(requests.length, modes.length - 1)]!;
    requests.push({ resumeAfter, at: performance.now() });
    if (mode.kind === 'expired') {
      res.writeHead(410, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'CHANGES_EXPIRED', message: `fake: ${resumeAfter} is older than what this node retains` } }));
      return;
    }
    const start = resumeAfter === null || resumeAfter === '0' ? 0 : events.findIndex((e) => e.eventId === resumeAfter) + 1;
    const sent = events.slice(start, start + (mode.events ?? events.length));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(': connected\n\n');
    if (mode.kind === 'end') {
      res.end(sent.map(sseEvent).join(''));
      return;
    }
    // One write per event, `gapMs` apart when given.
    sent.forEach((event, i) => {
      if (mode.gapMs === undefined) res.write(sseEvent(event));
      else timers.add(setTimeout(() => res.write(sseEvent(event)), i * mode.gapMs));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `promise`, or a failure after `ms` (the watch hung). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A database with `count` inserts into `w` (d0, d1...), and the events a server derives from them. */
async function withEvents(count: number): Promise<{ db: Database; events: ChangeEvent[] }> {
  const db = await open({ memory: true });
  for (let i = 0; i < count; i++) await db.collection('w').insert({ _id: `d${i}` });
  const { app, url } = await serve(db);
  const client = connect(url);
  try {
    return { db, events: await take(client.collection('w').watch({ resumeAfter: '0' }), count) };
  } finally {
    await client.close();
    await app.close();
  }
}

const ids = (events: readonly ChangeEvent[]): string[] => events.map((e) => e.aggregateId);

describe('client watch(): silent nodes, 410s, reconnect backoff', () => {
  const IDLE_MS = 300;

  test('a node that sends the headers and then nothing: the watch moves on within idleTimeoutMs, no loss, no duplicates', async () => {
    const { db, events } = await withEvents(5);
    // The first node hands out 3 events and goes silent (a half-open connection, a stopped
    // node); the second, a real server, has them all (and heartbeats, faster than IDLE_MS).
    const silent = await fakeNode(events, [{ kind: 'silent', events: 3 }]);
    const real = await serve(db, 50);
    const client = connect([silent.url, real.url], { backoff: { delayMsInitial: 10, delayMsMax: 50 } });
    try {
      const watch = client.collection('w').watch({ resumeAfter: '0', idleTimeoutMs: IDLE_MS });
      const started = performance.now();
      const seen = await within(take(watch, 5), 3000, 'the watch after the node went silent');
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= IDLE_MS - 20 && elapsed < IDLE_MS + 1500, `moved on after ${Math.round(elapsed)} ms`);
      await db.collection('w').insert({ _id: 'd5' });
      // Longer than IDLE_MS on the real node: its heartbeats keep the stream.
      await new Promise((resolve) => setTimeout(resolve, 2 * IDLE_MS));
      seen.push(...(await within(take(watch, 1), 3000, 'a live change')));
      await watch.return();
      assert.deepEqual(ids(seen), ['d0', 'd1', 'd2', 'd3', 'd4', 'd5']);
      assert.deepEqual(
        seen.slice(0, 5).map((e) => e.eventId),
        events.map((e) => e.eventId),
      );
      assert.equal(silent.requests.length, 1, 'the silent node was asked once');
    } finally {
      await client.close();
      await silent.close();
      await real.app.close();
      await db.close();
    }
  });

  test('the idle timeout does not count the time the caller holds an event', async () => {
    const { db, events } = await withEvents(3);
    // Events 50 ms apart, then silence: the caller holds the first for 2 idle timeouts.
    const node = await fakeNode(events, [{ kind: 'silent', gapMs: 50 }]);
    const client = connect(node.url, { backoff: { delayMsInitial: 10, delayMsMax: 50 } });
    try {
      const watch = client.collection('w').watch({ resumeAfter: '0', idleTimeoutMs: 200 });
      const first = await within(take(watch, 1), 3000, 'the first event');
      await new Promise((resolve) => setTimeout(resolve, 400));
      const rest = await within(take(watch, 2), 3000, 'the buffered events');
      assert.deepEqual(ids([...first, ...rest]), ['d0', 'd1', 'd2']);
      assert.equal(node.requests.length, 1, 'the stream was kept while the caller held an event');
      await watch.return();
    } finally {
      await client.close();
      await node.close();
      await db.close();
    }
  });

  test('410 from one node, another still has the changes: the watch goes on there without loss', async () => {
    const { db, events } = await withEvents(4);
    const expired = await fakeNode(events, [{ kind: 'expired' }]);
    const real = await serve(db, 50);
    const client = connect([expired.url, real.url], { backoff: { delayMsInitial: 10, delayMsMax: 50 } });
    try {
      const watch = client.collection('w').watch({ resumeAfter: events[0]!.eventId, idleTimeoutMs: IDLE_MS });
      const seen = await within(take(watch, 3), 3000, 'the watch after a 410');
      await watch.return();
      assert.deepEqual(ids(seen), ['d1', 'd2', 'd3']);
      assert.deepEqual(expired.requests, [{ resumeAfter: events[0]!.eventId, at: expired.requests[0]!.at }]);
    } finally {
      await client.close();
      await expired.close();
      await real.app.close();
      await db.close();
    }
  });

  test('410 from every node: ChangesExpiredError, each node asked once', async () => {
    const { db, events } = await withEvents(1);
    const a = await fakeNode(events, [{ kind: 'expired' }]);
    const b = await fakeNode(events, [{ kind: 'expired' }]);
    const client = connect([a.url, b.url], { retries: 5, backoff: { delayMsInitial: 10, delayMsMax: 50 } });
    try {
      const error = await within(client.collection('w').watch({ resumeAfter: '1.0' }).next(), 3000, 'the watch').then(
        () => assert.fail('no error'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof ChangesExpiredError, String(error));
      assert.equal(error.code, 'CHANGES_EXPIRED');
      assert.equal(error.status, 410);
      assert.match(error.message, /is older than what this node retains/);
      assert.ok(error.message.includes(a.url) && error.message.includes(b.url), error.message);
      assert.equal(a.requests.length, 1);
      assert.equal(b.requests.length, 1);
    } finally {
      await client.close();
      await a.close();
      await b.close();
      await db.close();
    }
  });

  test('410 from one node, the others unreachable: ChangesExpiredError once the retries are spent', async () => {
    const { db, events } = await withEvents(1);
    const expired = await fakeNode(events, [{ kind: 'expired' }]);
    const gone = await fakeNode(events, [{ kind: 'expired' }]);
    await gone.close(); // its port now refuses connections
    const client = connect([expired.url, gone.url], { retries: 3, backoff: { delayMsInitial: 10, delayMsMax: 20 } });
    try {
      await assert.rejects(within(client.collection('w').watch({ resumeAfter: '1.0' }).next(), 3000, 'the watch'), ChangesExpiredError);
      assert.equal(expired.requests.length, 1, 'the node that answered 410 is not asked again for the same token');
    } finally {
      await client.close();
      await expired.close();
      await db.close();
    }
  });

  test('a stream the server ends: the watch reconnects after a backoff, resuming after the last event', async () => {
    const { db, events } = await withEvents(4);
    // The first stream ends after 2 events; the next one goes on.
    const node = await fakeNode(events, [
      { kind: 'end', events: 2 },
      { kind: 'silent', events: 10 },
    ]);
    const client = connect(node.url, { backoff: { delayMsInitial: 200, delayMsMax: 400 } });
    try {
      const watch = client.collection('w').watch({ resumeAfter: '0', idleTimeoutMs: 2000 });
      const seen = await within(take(watch, 4), 3000, 'the watch');
      await watch.return();
      assert.deepEqual(ids(seen), ['d0', 'd1', 'd2', 'd3']);
      const [first, second] = node.requests;
      assert.equal(second?.resumeAfter, events[1]!.eventId);
      // The first retry's delay is in [delayMsInitial / 2, delayMsInitial].
      const gap = second!.at - first!.at;
      assert.ok(gap >= 100 - 5, `reconnected after ${Math.round(gap)} ms`);
    } finally {
      await client.close();
      await node.close();
      await db.close();
    }
  });

  test('a node that ends every stream at once, without an event: reconnects back off, and the watch gives up after its retries', async () => {
    const { db, events } = await withEvents(0);
    const node = await fakeNode(events, [{ kind: 'end' }]);
    const client = connect(node.url, { retries: 3, backoff: { delayMsInitial: 100, delayMsMax: 200 } });
    try {
      await assert.rejects(within(client.collection('w').watch({ idleTimeoutMs: IDLE_MS }).next(), 3000, 'the watch'), UnavailableError);
      const at = node.requests.map((r) => r.at);
      assert.equal(at.length, 4, 'the first attempt and 3 retries');
      // Retry i waits in [cap / 2, cap], cap = min(200, 100 * 2^i): at least 50, 100, 100 ms.
      [50, 100, 100].forEach((least, i) => {
        const gap = at[i + 1]! - at[i]!;
        assert.ok(gap >= least - 5, `retry ${i} after ${Math.round(gap)} ms`);
      });
    } finally {
      await client.close();
      await node.close();
      await db.close();
    }
  });

  test('idleTimeoutMs must be a positive number of ms', async () => {
    const client = connect('http://127.0.0.1:1');
    try {
      for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '5' as unknown as number]) {
        await assert.rejects(client.watch({ idleTimeoutMs: bad }).next(), RangeError);
      }
    } finally {
      await client.close();
    }
  });
});
