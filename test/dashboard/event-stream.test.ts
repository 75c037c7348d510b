// The timeline's stream reader (browser/event-stream.js) run in node:vm with Node's own fetch
// against a local HTTP server playing GET /cluster/events: events arrive with the request's
// headers, an ended stream is followed again, failures back off (1 s, then 2 s, ...), `now`
// ends a backoff at once, a new token reconnects, and stopping closes the connection.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import vm from 'node:vm';
import { browserScript } from '../../src/dashboard/assets.ts';
import type { EventView } from './browser-scripts.ts';

interface StreamState {
  state: string;
  connects: number;
  received: number;
  reason: string | null;
}
interface EventStream {
  want(headers: Record<string, string> | null, now?: boolean): void;
  state(): StreamState;
}

interface Seen {
  atMs: number;
  authorization: string | undefined;
}

/** A /cluster/events endpoint whose answers the test sets. */
class EventsServer {
  mode: 'ok' | 'error503' = 'ok';
  readonly requests: Seen[] = [];
  readonly open = new Set<ServerResponse>();
  private server: Server | null = null;
  origin = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  send(seq: number, type = 'node_left'): void {
    const event = { seq, at: new Date().toISOString(), node: 1, term: 2, type, member: 3 };
    for (const res of this.open) res.write(`id: ${seq}\nevent: ${type}\ndata: ${JSON.stringify(event)}\n\n`);
  }

  /** Ends every open stream cleanly (as a node does when it shuts down). */
  endAll(): void {
    for (const res of this.open) res.end();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push({ atMs: performance.now(), authorization: req.headers.authorization });
    if (this.mode === 'error503') {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"NO_LEADER","message":"no"}}');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(': connected\n\n');
    this.open.add(res);
    res.on('close', () => this.open.delete(res));
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('event stream (fetch, reconnect, backoff)', () => {
  const server = new EventsServer();
  const received: EventView[] = [];
  let stream: EventStream;
  const headers = { 'X-Requested-With': 'XMLHttpRequest', Authorization: 'Bearer cs1.first' };

  before(async () => {
    await server.start();
    // The page fetches a path of its own origin; here the origin is the test server's.
    const context = vm.createContext({
      fetch: (path: string, init: RequestInit) => fetch(server.origin + path, init),
      AbortController,
      TextDecoder,
      URL,
      setTimeout,
      clearTimeout,
    });
    for (const name of ['metrics.js', 'events.js', 'event-stream.js'] as const) vm.runInContext(browserScript(name), context, { filename: name });
    const ns = (context as { CSDash: { createEventStream(onEvent: (e: EventView) => void): EventStream } }).CSDash;
    stream = ns.createEventStream((e) => received.push(e));
  });

  after(async () => {
    stream.want(null);
    await server.stop();
  });

  test('events arrive, read with the headers it was given', async () => {
    stream.want(headers);
    await until('connected', () => stream.state().state === 'live' && server.open.size === 1);
    server.send(1);
    server.send(2, 'node_joined');
    await until('two events', () => received.length === 2);
    assert.deepEqual(
      received.map((e) => [e.seq, e.type]),
      [
        [1, 'node_left'],
        [2, 'node_joined'],
      ],
    );
    assert.equal(server.requests[0]!.authorization, 'Bearer cs1.first');
    stream.want(headers); // the same again: nothing changes
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(server.requests.length, 1);
  });

  test('an ended stream is followed again after a second', async () => {
    const before = server.requests.length;
    const endedAt = performance.now();
    server.endAll();
    await until('reconnected', () => server.requests.length === before + 1 && stream.state().state === 'live', 5000);
    const waited = server.requests[before]!.atMs - endedAt;
    assert.ok(waited >= 900, `reconnected after ${waited} ms`);
    assert.equal(stream.state().connects, 2);
  });

  test('failures back off (1 s, then 2 s); `now` ends the wait at once', async () => {
    server.mode = 'error503';
    const before = server.requests.length;
    const endedAt = performance.now();
    server.endAll();
    // Counted once the page has the second answer, not just the server the request.
    await until('two failed attempts', () => server.requests.length >= before + 2 && stream.state().state === 'retrying', 8000);
    assert.equal(server.requests.length, before + 2);
    assert.equal(stream.state().reason, 'HTTP 503');
    // Timers never fire early, so these lower bounds hold however loaded the machine is.
    const [first, second] = server.requests.slice(before).map((r) => r.atMs - endedAt);
    assert.ok(first! >= 900, `first attempt ${first} ms after the end`);
    assert.ok(second! - first! >= 1900, `second attempt ${second! - first!} ms after the first: the wait doubled`);
    // The next wait is 4 s; the page saw the node answer again and says so.
    server.mode = 'ok';
    stream.want(headers, true);
    await until('live again', () => stream.state().state === 'live', 3000);
    assert.equal(server.requests.length, before + 3);
    const third = server.requests[before + 2]!.atMs - endedAt;
    assert.ok(third - second! < 3500, `reconnected ${third - second!} ms after the last failure, not after the 4 s wait`);
  });

  test('a new token reconnects with it; stopping closes the connection', async () => {
    server.mode = 'ok'; // whatever the test before left
    const before = server.requests.length;
    stream.want({ ...headers, Authorization: 'Bearer cs1.second' });
    await until('reconnected with the new token', () => server.requests.length === before + 1 && server.open.size === 1);
    assert.equal(server.requests[before]!.authorization, 'Bearer cs1.second');
    stream.want(null);
    await until('closed', () => server.open.size === 0);
    assert.equal(stream.state().state, 'stopped');
    await new Promise((resolve) => setTimeout(resolve, 1300));
    assert.equal(server.requests.length, before + 1, 'no retry once stopped');
  });
});
