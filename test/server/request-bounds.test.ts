// Over real HTTP: no single query stalls the node (RE2 regex, bounded filter shape, no
// JavaScript), fields= refuses prototype keys, and every 4xx the server or Node answers
// itself (413, 431, 408, a malformed request) is in the API's error shape.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startTestServer, type TestServer } from './helpers.ts';
import { FILTER_BRANCHES_MAX, FILTER_DEPTH_LEVELS_MAX, FILTER_LIST_VALUES_MAX, FILTER_REGEXES_MAX } from '../../src/store/validate-filter.ts';

interface ErrorReply {
  status: number;
  code: string;
  message: string;
}

async function errorReply(res: Response): Promise<ErrorReply> {
  const text = await res.text();
  const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
  assert.equal(typeof body.error?.code, 'string', text);
  assert.equal(typeof body.error?.message, 'string', text);
  return { status: res.status, code: body.error!.code as string, message: body.error!.message as string };
}

/** Sends raw bytes and returns everything the server writes until it closes the connection. */
function rawExchange(port: number, data: string, end = true): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
    socket.write(data);
    if (end) socket.end();
  });
}

/** Status and parsed JSON body of a raw HTTP/1.1 response. */
function parseRaw(raw: string): { status: number; contentType: string | undefined; body: { error: { code: string; message: string } } } {
  const [head, body] = [raw.slice(0, raw.indexOf('\r\n\r\n')), raw.slice(raw.indexOf('\r\n\r\n') + 4)];
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const contentType = /\r\ncontent-type: ([^\r]+)/i.exec(head)?.[1];
  return { status, contentType, body: JSON.parse(body) as { error: { code: string; message: string } } };
}

describe('request bounds over HTTP', () => {
  let s: TestServer;
  let base: string;
  let port: number;
  before(async () => {
    s = await startTestServer({ bodyLimit: 4 * 1024 * 1024, requestTimeoutMs: 400 });
    base = await s.app.listen({ port: 0, host: '127.0.0.1' });
    port = Number(new URL(base).port);
    const docs = Array.from({ length: 2000 }, (_, i) => ({ _id: `d${i}`, s: 'a'.repeat(27) + 'b', n: i }));
    const res = await fetch(`${base}/api/c`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(docs) });
    assert.equal(res.status, 201);
  });
  after(async () => {
    await s.close();
  });

  const query = (body: unknown): Promise<Response> =>
    fetch(`${base}/api/c/_query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  test('a catastrophic $regex answers at once, over GET and POST', async () => {
    const started = performance.now();
    const res = await query({ filter: { s: { $regex: '(a+)+$' } } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), []);
    const get = await fetch(`${base}/api/c?filter=${encodeURIComponent(JSON.stringify({ s: { $regex: '^(a|aa)+b$', $options: 'i' } }))}&limit=1`);
    assert.equal(get.status, 200);
    assert.equal(((await get.json()) as unknown[]).length, 1);
    const ms = performance.now() - started;
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  test('refused patterns and flags are 400 VALIDATION naming the problem', async () => {
    const cases: [unknown, RegExp][] = [
      [{ s: { $regex: '(a)\\1' } }, /^filter\.s\.\$regex: invalid regular expression for RE2/],
      [{ s: { $regex: 'a(?=b)' } }, /^filter\.s\.\$regex: invalid regular expression for RE2/],
      [{ s: { $regex: 'a', $options: 'x' } }, /^filter\.s\.\$options: flag "x" is not supported/],
      [{ s: { $regex: 'a'.repeat(1025) } }, /REGEX_PATTERN_CHARS_MAX/],
    ];
    for (const [filter, message] of cases) {
      const e = await errorReply(await query({ filter }));
      assert.equal(e.status, 400);
      assert.equal(e.code, 'VALIDATION');
      assert.match(e.message, message);
    }
  });

  test('$where, $function, $accumulator and $expr are 400 VALIDATION', async () => {
    const js = 'function () { return true; }';
    for (const filter of [
      { $where: js },
      { $expr: { $function: { body: js, args: [], lang: 'js' } } },
      { s: { $function: { body: js, args: [], lang: 'js' } } },
      { s: { $accumulator: { init: js } } },
    ]) {
      const e = await errorReply(await query({ filter }));
      assert.equal(e.status, 400, JSON.stringify(filter));
      assert.equal(e.code, 'VALIDATION');
      assert.match(e.message, /is not supported: queries never run JavaScript/);
    }
  });

  test('filter bounds: at the bound accepted, one past refused with a 400 naming the limit', async () => {
    const branches = (n: number): unknown[] => Array.from({ length: n }, (_, i) => ({ n: i }));
    const values = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
    const nested = (levels: number): unknown => {
      let f: unknown = { n: 1 };
      for (let i = 2; i < levels; i++) f = { $and: [f] };
      return f;
    };
    const regexes = (n: number): unknown[] => Array.from({ length: n }, (_, i) => ({ s: { $regex: `^a{${i + 1}}` } }));
    const cases: [unknown, unknown, string][] = [
      [{ $or: branches(FILTER_BRANCHES_MAX) }, { $or: branches(FILTER_BRANCHES_MAX + 1) }, 'FILTER_BRANCHES_MAX'],
      [{ n: { $in: values(FILTER_LIST_VALUES_MAX) } }, { n: { $in: values(FILTER_LIST_VALUES_MAX + 1) } }, 'FILTER_LIST_VALUES_MAX'],
      [{ n: { $nin: values(FILTER_LIST_VALUES_MAX) } }, { n: { $nin: values(FILTER_LIST_VALUES_MAX + 1) } }, 'FILTER_LIST_VALUES_MAX'],
      [nested(FILTER_DEPTH_LEVELS_MAX), nested(FILTER_DEPTH_LEVELS_MAX + 1), 'FILTER_DEPTH_LEVELS_MAX'],
      [{ $or: regexes(FILTER_REGEXES_MAX) }, { $or: regexes(FILTER_REGEXES_MAX + 1) }, 'FILTER_REGEXES_MAX'],
      [{ s: { $regex: 'a'.repeat(1024) } }, { s: { $regex: 'a'.repeat(1025) } }, 'REGEX_PATTERN_CHARS_MAX'],
    ];
    for (const [ok, over, limit] of cases) {
      const accepted = await query({ filter: ok, limit: 1 });
      assert.equal(accepted.status, 200, limit);
      await accepted.body?.cancel();
      const e = await errorReply(await query({ filter: over, limit: 1 }));
      assert.equal(e.status, 400, limit);
      assert.equal(e.code, 'VALIDATION');
      assert.ok(e.message.includes(limit), e.message);
    }
  });

  test('fields= with __proto__, constructor or prototype is a 400 naming the key', async () => {
    for (const fields of ['x,__proto__', 'constructor', 'a.prototype', '__proto__.polluted']) {
      const e = await errorReply(await fetch(`${base}/api/c?fields=${encodeURIComponent(fields)}`));
      assert.equal(e.status, 400, fields);
      assert.equal(e.code, 'VALIDATION');
      assert.match(e.message, /^fields: .*key "(__proto__|constructor|prototype)" is not allowed$/);
    }
    const fine = await fetch(`${base}/api/c?fields=n&limit=1`);
    assert.equal(fine.status, 200);
    assert.deepEqual(await fine.json(), [{ _id: 'd0', n: 0 }]);
  });

  test('a body over the limit is a 413 PAYLOAD_TOO_LARGE in the error shape (declared length and chunked)', async () => {
    const big = JSON.stringify({ _id: 'big', s: 'x'.repeat(4 * 1024 * 1024) });
    const e = await errorReply(await fetch(`${base}/api/c`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big }));
    assert.equal(e.status, 413);
    assert.equal(e.code, 'PAYLOAD_TOO_LARGE');
    const chunked = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    const res = await fetch(`${base}/api/c`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: chunked,
      duplex: 'half',
    } as RequestInit);
    const e2 = await errorReply(res);
    assert.equal(e2.status, 413);
    assert.equal(e2.code, 'PAYLOAD_TOO_LARGE');
    assert.equal(s.db.store.get('c', 'big'), undefined);
  });

  test('request headers too large: 431 in the error shape', async () => {
    const raw = await rawExchange(port, `GET /api/c HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(64 * 1024)}\r\n\r\n`);
    const { status, contentType, body } = parseRaw(raw);
    assert.equal(status, 431);
    assert.match(contentType ?? '', /^application\/json/);
    assert.equal(body.error.code, 'BAD_REQUEST');
    assert.match(body.error.message, /headers too large/);
  });

  test('a malformed request line: 400 in the error shape', async () => {
    const { status, body } = parseRaw(await rawExchange(port, 'NOT HTTP AT ALL\r\n\r\n'));
    assert.equal(status, 400);
    assert.equal(body.error.code, 'BAD_REQUEST');
  });

  test('a request not received whole within the request timeout: 408 REQUEST_TIMEOUT in the error shape', async () => {
    const raw = await rawExchange(
      port,
      'POST /api/c HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
      false,
    );
    const { status, body } = parseRaw(raw);
    assert.equal(status, 408);
    assert.equal(body.error.code, 'REQUEST_TIMEOUT');
    const headersStalled = parseRaw(await rawExchange(port, 'GET /api/c HTTP/1.1\r\nHost: x\r\n', false));
    assert.equal(headersStalled.status, 408);
    assert.equal(headersStalled.body.error.code, 'REQUEST_TIMEOUT');
  });
});
