// A node far behind the leader refuses the data API at once (503 NOT_CAUGHT_UP, the leader
// named, nothing done) instead of holding requests until it has caught up; within the bound,
// for stale reads it was asked for, and outside the data API it serves as before. A node that
// has not caught up once since it started holds a request only briefly, then refuses too.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FOLLOWER_LAG_ENTRIES_MAX } from '../../src/node/catch-up.ts';
import { CAUGHT_UP_ONCE_WAIT_MS_MAX } from '../../src/server/catch-up-guard.ts';
import { errorOf, send, startScriptedServer, type ScriptedBackend, type TestServer } from './helpers.ts';

describe('a node catching up refuses the data API', () => {
  let s: TestServer & { scripted: ScriptedBackend };

  before(async () => {
    s = await startScriptedServer();
    assert.equal((await send(s.app, 'PUT', '/api/c/a', { n: 1 })).statusCode, 201);
  });
  after(async () => {
    await s.close();
  });

  test('past FOLLOWER_LAG_ENTRIES_MAX: reads, writes and streams get 503 NOT_CAUGHT_UP with the leader; nothing is written', async () => {
    s.scripted.behind = FOLLOWER_LAG_ENTRIES_MAX + 1;
    const calls = s.scripted.executeCalls;
    try {
      for (const [method, url, body] of [
        ['GET', '/api/c/a', undefined],
        ['GET', '/api/c?filter=%7B%7D', undefined],
        ['GET', '/api/c/a?consistency=lease', undefined],
        ['PUT', '/api/c/b', { n: 2 }],
        ['POST', '/api/c', { n: 3 }],
        ['GET', '/api/c/_changes', undefined],
        ['GET', '/api', undefined],
      ] as const) {
        const res = await send(s.app, method, url, body);
        assert.equal(res.statusCode, 503, `${method} ${url}: ${res.body}`);
        const error = errorOf(res);
        assert.equal(error.code, 'NOT_CAUGHT_UP');
        assert.match(error.message, /1001 log entries behind the leader/);
        assert.equal(error.leader, 'http://10.0.0.2:8080', 'names the leader to retry at');
      }
      assert.equal(s.scripted.executeCalls, calls, 'no write reached the log');
    } finally {
      s.scripted.behind = 0;
    }
    assert.equal((await send(s.app, 'GET', '/api/c/b')).statusCode, 404, 'the refused PUT wrote nothing');
  });

  test('a stale read asked for (consistency=local), the cluster routes and health are still served', async () => {
    s.scripted.behind = FOLLOWER_LAG_ENTRIES_MAX + 500;
    try {
      const local = await send(s.app, 'GET', '/api/c/a?consistency=local');
      assert.equal(local.statusCode, 200, local.body);
      assert.equal((local.json() as { n: number }).n, 1);
      assert.equal((await send(s.app, 'GET', '/cluster/status')).statusCode, 200);
      assert.equal((await send(s.app, 'GET', '/healthz')).statusCode, 200);
      // A write that claims consistency=local is still a write: refused.
      assert.equal((await send(s.app, 'PUT', '/api/c/a?consistency=local', { n: 9 })).statusCode, 503);
    } finally {
      s.scripted.behind = 0;
    }
  });

  test('at the bound and below, requests are served as before', async () => {
    s.scripted.behind = FOLLOWER_LAG_ENTRIES_MAX;
    try {
      assert.equal((await send(s.app, 'GET', '/api/c/a')).statusCode, 200);
      assert.equal((await send(s.app, 'PUT', '/api/c/d', { n: 4 })).statusCode, 201);
    } finally {
      s.scripted.behind = 0;
    }
  });
});

describe('a node that has not caught up since it started', () => {
  test(`holds a request at most CAUGHT_UP_ONCE_WAIT_MS_MAX for it, then 503 NOT_CAUGHT_UP (a cluster route waits); once caught up, serves`, async () => {
    const s = await startScriptedServer();
    try {
      let release: () => void = () => {};
      s.scripted.barrierGate = new Promise<void>((resolve) => (release = resolve));
      const started = Date.now();
      const refused = await send(s.app, 'PUT', '/api/c/a', { n: 1 });
      const waitedMs = Date.now() - started;
      assert.equal(refused.statusCode, 503, refused.body);
      assert.equal(errorOf(refused).code, 'NOT_CAUGHT_UP');
      assert.match(errorOf(refused).message, /not caught up with the cluster since it started/);
      assert.ok(waitedMs >= CAUGHT_UP_ONCE_WAIT_MS_MAX - 5 && waitedMs < CAUGHT_UP_ONCE_WAIT_MS_MAX + 2000, `waited ${waitedMs} ms`);
      assert.equal(s.scripted.executeCalls, 0, 'nothing was written');
      // A route outside the data API (here /metrics) waits for it as before.
      let metricsDone = false;
      const metrics = send(s.app, 'GET', '/metrics').then((res) => {
        metricsDone = true;
        return res;
      });
      await new Promise((resolve) => setTimeout(resolve, CAUGHT_UP_ONCE_WAIT_MS_MAX + 100));
      assert.equal(metricsDone, false, 'still waiting past the data API bound');
      release();
      s.scripted.barrierGate = null;
      assert.equal((await metrics).statusCode, 200);
      assert.equal((await send(s.app, 'PUT', '/api/c/a', { n: 1 })).statusCode, 201);
    } finally {
      await s.close();
    }
  });
});
