// The chaos load's HTTP client: how it classifies answers and failures, against a real
// server on 127.0.0.1. A retry gets what is left of its operation's time, a fractional number
// of ms; CI's chaos runs once ended every retry at once with ERR_OUT_OF_RANGE (taken for an
// unknown outcome) because AbortSignal.timeout takes whole ms only.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { mayRetry, NodeClient } from '../../src/chaos/node-client.ts';

describe('chaos NodeClient', () => {
  let server: Server;
  let url = '';
  const client = new NodeClient(1000);

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"v":1}');
      } else if (req.url === '/no-leader') {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"NO_LEADER","message":"no leader"}}');
      } else if (req.url === '/conflict') {
        res.writeHead(412, { 'content-type': 'application/json' }).end('{"error":{"code":"PRECONDITION_FAILED","message":"rev moved"}}');
      } else if (req.url === '/slow') {
        setTimeout(() => res.writeHead(200).end('{}'), 300);
      } else {
        req.socket.destroy();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await client.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('a fractional time left is a valid bound, not an error', async () => {
    const outcome = await client.call(url, 'GET', '/ok', undefined, {}, 123.456);
    assert.deepEqual(outcome, { kind: 'ok', status: 200, body: { v: 1 } });
    const tiny = await client.call(url, 'GET', '/ok', undefined, {}, 0.25);
    assert.notEqual(tiny.kind === 'ok' ? '' : tiny.code, 'ERR_OUT_OF_RANGE');
  });

  test('a request past its bound is indeterminate (TIMEOUT) and may be retried', async () => {
    const outcome = await client.call(url, 'GET', '/slow', undefined, {}, 50.5);
    assert.equal(outcome.kind, 'info');
    assert.equal(outcome.kind === 'info' && outcome.code, 'TIMEOUT');
    assert.ok(mayRetry(outcome));
  });

  test("an answered request leaves no timer behind (one that lived to its bound kept the generator's heap growing)", async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await client.call(url, 'GET', '/ok');
    const before = timers();
    for (let i = 0; i < 20; i++) assert.equal((await client.call(url, 'GET', '/ok')).kind, 'ok');
    assert.ok(timers() < before + 5, `timers: ${before} before, ${timers()} after 20 answered requests`);
  });

  test('error codes come from the error table: NO_LEADER is a definite failure worth retrying, a 412 is final', async () => {
    const noLeader = await client.call(url, 'GET', '/no-leader');
    assert.equal(noLeader.kind, 'fail');
    assert.ok(mayRetry(noLeader));
    const conflict = await client.call(url, 'PUT', '/conflict', { v: 2 });
    assert.equal(conflict.kind, 'fail');
    assert.equal(conflict.kind === 'fail' && conflict.code, 'PRECONDITION_FAILED');
    assert.equal(mayRetry(conflict), false);
  });

  test('a connection cut mid-request is indeterminate; a refused one is a definite failure', async () => {
    const cut = await client.call(url, 'PUT', '/cut', { v: 3 });
    assert.equal(cut.kind, 'info');
    const refused = await client.call('http://127.0.0.1:1', 'GET', '/ok');
    assert.equal(refused.kind, 'fail');
    assert.equal(refused.kind === 'fail' && refused.code, 'ECONNREFUSED');
    assert.ok(mayRetry(refused));
  });
});
