// Tests over a real socket: listen on an ephemeral port and talk with fetch.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { send, startScriptedServer, startTestServer } from './helpers.ts';

async function listen(app: FastifyInstance): Promise<string> {
  return app.listen({ port: 0, host: '127.0.0.1' });
}

interface SseMessage {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** Reads server-sent events from a fetch response, one message at a time. */
class SseReader {
  private buffer = '';
  private readonly decoder = new TextDecoder();
  private readonly chunks: AsyncIterator<Buffer>;
  constructor(private readonly response: IncomingMessage) {
    this.chunks = response[Symbol.asyncIterator]();
  }

  /** Closes the connection from the client side. */
  abort(): void {
    this.response.destroy();
  }

  async next(): Promise<SseMessage | null> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end !== -1) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const msg: SseMessage = {};
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) msg.comment = line.slice(1).trim();
          else {
            const i = line.indexOf(': ');
            (msg as Record<string, string>)[line.slice(0, i)] = line.slice(i + 2);
          }
        }
        return msg;
      }
      let step: IteratorResult<Buffer>;
      try {
        step = await this.chunks.next();
      } catch {
        return null;
      }
      if (step.done === true) return null;
      const value = step.value;
      this.buffer += this.decoder.decode(value, { stream: true });
    }
  }

  /** The next `change` event's data, skipping comments. */
  async nextChange(): Promise<{ id: string; data: Record<string, unknown> }> {
    for (;;) {
      const msg = await this.next();
      assert.ok(msg !== null, 'stream ended early');
      if (msg.comment !== undefined) continue;
      assert.equal(msg.event, 'change');
      return { id: msg.id!, data: JSON.parse(msg.data!) };
    }
  }
}

/** Opens a change stream with node:http (its socket is closed the moment we abort). */
async function openStream(url: string): Promise<SseReader> {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(url, resolve);
    req.on('error', reject);
    req.end();
  });
  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers['content-type']), /^text\/event-stream/);
  return new SseReader(response);
}

async function openStreams(app: FastifyInstance): Promise<number> {
  const text = (await send(app, 'GET', '/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith('collection_store_change_streams '));
  return Number(line?.split(' ')[1]);
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('over a real socket', () => {
  test('CRUD with fetch against a listening server', async () => {
    const s = await startTestServer();
    try {
      const base = await listen(s.app);
      const created = await fetch(`${base}/api/things`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ _id: 't1', v: 1 }),
      });
      assert.equal(created.status, 201);
      const got = await fetch(`${base}/api/things/t1`);
      assert.equal(got.status, 200);
      assert.equal(got.headers.get('etag'), `"${(await created.json())._rev}"`);
      const cas = await fetch(`${base}/api/things/t1`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'if-match': '"999"' },
        body: JSON.stringify({ v: 2 }),
      });
      assert.equal(cas.status, 412);
      assert.equal((await cas.json()).error.code, 'PRECONDITION_FAILED');
    } finally {
      await s.close();
    }
  });

  test('_changes validates its parameters (400)', async () => {
    const s = await startTestServer();
    try {
      for (const url of [
        '/api/feed/_changes?since=-1',
        '/api/feed/_changes?since=x',
        '/api/_bad/_changes',
        '/api/feed/_changes?consistency=no',
        '/api/feed/_changes?foo=1',
      ]) {
        assert.equal((await send(s.app, 'GET', url)).statusCode, 400, url);
      }
      assert.equal((await send(s.app, 'GET', '/api/feed/_changes', undefined, { 'last-event-id': 'x' })).statusCode, 400);
    } finally {
      await s.close();
    }
  });

  test('a client that stops reading is dropped once its queue is full', async () => {
    const s = await startTestServer({ changeStream: { maxQueuedEvents: 4, heartbeatMs: 60_000 } });
    try {
      const base = new URL(await listen(s.app));
      // A raw request whose response is never read: socket buffers fill up.
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest({ host: base.hostname, port: base.port, path: '/api/slow/_changes' }, resolve);
        req.on('error', reject);
        req.end();
      });
      response.pause();
      assert.equal(response.statusCode, 200);
      await waitFor(async () => (await openStreams(s.app)) === 1, 'the stream to open');
      const big = 'x'.repeat(256 * 1024);
      for (let i = 0; i < 200 && (await openStreams(s.app)) === 1; i++) {
        await send(s.app, 'POST', '/api/slow', { big, i });
      }
      assert.equal(await openStreams(s.app), 0, 'the slow client was dropped');
      response.destroy();
    } finally {
      await s.close();
    }
  });

  test('close() lets an in-flight write finish and ends change streams', async () => {
    const s = await startScriptedServer();
    const base = await listen(s.app);
    let release!: () => void;
    s.scripted.executeGate = new Promise((r) => (release = r));
    const stream = await openStream(`${base}/api/g/_changes`);
    const pending = fetch(`${base}/api/g`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ _id: 'inflight' }),
    });
    await waitFor(async () => s.scripted.executeCalls === 1, 'the write to be in flight');
    const closing = s.app.close();
    let closed = false;
    void closing.then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(closed, false, 'close waits for the in-flight request');
    release();
    const res = await pending;
    assert.equal(res.status, 201);
    assert.equal((await res.json())._id, 'inflight');
    await closing;
    // The stream was ended by close (its reader sees the end).
    let msg = await stream.next();
    while (msg !== null) msg = await stream.next();
    assert.equal(msg, null);
    assert.equal(s.db.store.get('g', 'inflight')?._id, 'inflight');
    await s.db.close();
  });
});
