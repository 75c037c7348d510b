import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { errorOf, send, startScriptedServer, startTestServer } from './helpers.ts';

describe('cluster routes', () => {
  test('status, snapshot, and the embedded backend refusing membership changes', async () => {
    const s = await startTestServer();
    try {
      await send(s.app, 'POST', '/api/c', [{ a: 1 }, { a: 2 }]);
      const status = await send(s.app, 'GET', '/cluster/status');
      assert.equal(status.statusCode, 200);
      const body = status.json();
      for (const key of ['nodeId', 'url', 'role', 'term', 'leader', 'commitIndex', 'appliedIndex', 'snapshotIndex', 'members']) {
        assert.ok(key in body, key);
      }
      assert.equal(body.appliedIndex, s.db.store.lastApplied);
      assert.equal(body.role, 'leader');
      assert.deepEqual(Object.keys(body.members[0]).sort(), ['connected', 'id', 'lag', 'matchIndex', 'url', 'voter']);
      const snap = await send(s.app, 'POST', '/cluster/snapshot');
      assert.equal(snap.statusCode, 200);
      assert.equal(snap.json().index, s.db.store.lastApplied);
      assert.ok(snap.json().bytes > 0);
      assert.equal((await send(s.app, 'GET', '/cluster/status')).json().snapshotIndex, snap.json().index);
      assert.equal((await send(s.app, 'POST', '/cluster/members', { id: 2, url: 'http://127.0.0.1:9' })).statusCode, 400);
      const transfer = await send(s.app, 'POST', '/cluster/transfer-leadership', {});
      assert.equal(transfer.statusCode, 409);
      assert.equal(errorOf(transfer).code, 'CONFLICT');
    } finally {
      await s.close();
    }
  });

  test('members: add (voter, learner), promote, remove; bad bodies are 400', async () => {
    const s = await startScriptedServer();
    try {
      const added = await send(s.app, 'POST', '/cluster/members', { id: 2, url: 'http://127.0.0.1:8081', learner: true });
      assert.equal(added.statusCode, 200);
      assert.deepEqual(
        added.json().members.map((m: { id: number; voter: boolean }) => [m.id, m.voter]),
        [
          [1, true],
          [2, false],
        ],
      );
      const promoted = await send(s.app, 'POST', '/cluster/members', { id: 2, url: 'http://127.0.0.1:8081' });
      assert.equal(promoted.statusCode, 200);
      const again = await send(s.app, 'POST', '/cluster/members', { id: 2, url: 'http://127.0.0.1:8081' });
      assert.equal(again.statusCode, 409, 'the backend reports a conflict');
      for (const body of [
        {},
        { id: 0, url: 'http://x' },
        { id: 1.5, url: 'http://x' },
        { id: 3 },
        { id: 3, url: 'ftp://x' },
        { id: 3, url: 'not a url' },
        { id: 3, url: 'http://x', learner: 1 },
        { id: 3, url: 'http://x', x: 1 },
      ]) {
        assert.equal((await send(s.app, 'POST', '/cluster/members', body)).statusCode, 400, JSON.stringify(body));
      }
      const removed = await send(s.app, 'DELETE', '/cluster/members/2');
      assert.equal(removed.statusCode, 200);
      assert.equal(s.scripted.members.length, 1);
      assert.equal((await send(s.app, 'DELETE', '/cluster/members/abc')).statusCode, 400);
      assert.equal((await send(s.app, 'DELETE', '/cluster/members/0')).statusCode, 400);
      assert.equal((await send(s.app, 'DELETE', '/cluster/members/42')).statusCode, 404);
    } finally {
      await s.close();
    }
  });

  test('transfer-leadership passes the target (or none) to the backend', async () => {
    const s = await startScriptedServer();
    try {
      assert.equal((await send(s.app, 'POST', '/cluster/transfer-leadership', { to: 3 })).statusCode, 200);
      assert.equal(s.scripted.transferredTo, 3);
      assert.equal((await send(s.app, 'POST', '/cluster/transfer-leadership')).statusCode, 200);
      assert.equal(s.scripted.transferredTo, undefined);
      assert.equal((await send(s.app, 'POST', '/cluster/transfer-leadership', { to: 'x' })).statusCode, 400);
    } finally {
      await s.close();
    }
  });

  test('/metrics exposes request counters, latency and the backend gauges', async () => {
    const s = await startScriptedServer();
    try {
      await send(s.app, 'POST', '/cluster/members', { id: 2, url: 'http://127.0.0.1:8081' });
      await send(s.app, 'POST', '/api/c', { a: 1 });
      await send(s.app, 'GET', '/api/c/missing');
      const res = await send(s.app, 'GET', '/metrics');
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /text\/plain/);
      const text = res.body;
      const value = (line: string): number => {
        const found = text.split('\n').find((l) => l.startsWith(`${line} `));
        assert.ok(found !== undefined, `missing ${line}`);
        return Number(found.slice(line.length + 1));
      };
      const status = s.scripted.status();
      assert.equal(value('collection_store_raft_term'), status.term);
      assert.equal(value('collection_store_raft_commit_index'), status.commitIndex);
      assert.equal(value('collection_store_raft_applied_index'), status.appliedIndex);
      assert.equal(value('collection_store_raft_snapshot_index'), status.snapshotIndex);
      assert.equal(value('collection_store_raft_is_leader'), 0, 'the scripted leader is node 2');
      assert.equal(value('collection_store_raft_member_lag{member="2"}'), 7);
      assert.equal(value('collection_store_http_requests_total{method="POST",route="/api/:collection",status="201"}'), 1);
      assert.equal(value('collection_store_http_requests_total{method="GET",route="/api/:collection/:id",status="404"}'), 1);
      assert.match(text, /collection_store_http_request_duration_seconds_bucket\{le="0.005",method="POST",route="\/api\/:collection",status="201"\}/);
    } finally {
      await s.close();
    }
  });

  test('/dashboard serves the given HTML', async () => {
    const s = await startTestServer({ dashboardHtml: '<!doctype html><title>cs</title>' });
    try {
      const res = await send(s.app, 'GET', '/dashboard');
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /text\/html/);
      assert.equal(res.body, '<!doctype html><title>cs</title>');
    } finally {
      await s.close();
    }
  });
});
