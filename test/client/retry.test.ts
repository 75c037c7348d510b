// Failover, retries and their limits: what is retried, what is not, and how a retried
// write recognises its own earlier attempt.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ClientClosedError,
  ConflictError,
  IdempotencyKeyReusedError,
  IdempotencyKeyExpiredError,
  NoLeaderError,
  OutcomeUnknownError,
  RequestTimeoutError,
  TimeoutError,
  UnavailableError,
  connect,
  type Client,
  type ConnectOptions,
} from '../../src/client/index.ts';
import { ALL_ERROR_CODES, errorCodeInfo } from '../../src/store/error-codes.ts';
import { FakeNode, FakeState } from './fake-server.ts';

const FAST: ConnectOptions = { retries: 3, backoff: { delayMsInitial: 5, delayMsMax: 20 }, timeout: 2000 };

/** A URL nobody listens on: a port that was just free. */
async function deadUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

async function withNode(fn: (node: FakeNode, client: Client) => Promise<void>, options: ConnectOptions = FAST): Promise<void> {
  const node = await FakeNode.start();
  const client = connect(node.url, options);
  try {
    await fn(node, client);
  } finally {
    await client.close();
    await node.close();
  }
}

describe('failover and leader handling', () => {
  test('fails over from a dead URL to a live one, for reads and for unsafe writes', async () => {
    const dead = await deadUrl();
    const live = await FakeNode.start();
    const client = connect([dead, live.url], FAST);
    try {
      const doc = await client.collection('c').insert({ v: 1 });
      assert.equal((await client.collection('c').get(doc._id))?.v, 1);
      // Connection refused means the request never left: even an $inc may be retried.
      const other = connect([dead, live.url], FAST);
      try {
        const updated = await other.collection('c').updateById(doc._id, { $inc: { v: 1 } });
        assert.equal(updated.v, 2);
        const r = await other.collection('c').update({ _id: doc._id }, { $inc: { v: 1 } });
        assert.equal(r.modified, 1);
      } finally {
        await other.close();
      }
      assert.deepEqual(live.lines(), ['POST /api/c', `GET /api/c/${doc._id}`, `PATCH /api/c/${doc._id}`, 'POST /api/c/_update']);
      assert.equal((await client.collection('c').get(doc._id))?.v, 3);
    } finally {
      await client.close();
      await live.close();
    }
  });

  test('follows the leader named in a 503 and keeps using it', async () => {
    const state = new FakeState();
    const follower = await FakeNode.start({ state });
    const leader = await FakeNode.start({ state });
    const client = connect([follower.url, leader.url], FAST);
    try {
      follower.inject({ action: { kind: 'no-leader', leader: `${leader.url}/` } });
      await client.collection('c').insert({ _id: 'a' });
      await client.collection('c').get('a');
      await client.collection('c').count();
      assert.equal(follower.requests.length, 1, 'only the first request went to the follower');
      assert.deepEqual(leader.lines(), ['POST /api/c', 'GET /api/c/a', 'POST /api/c/_count']);
    } finally {
      await client.close();
      await follower.close();
      await leader.close();
    }
  });

  test('learns the leader from /cluster/status, even one it was not given', async () => {
    const state = new FakeState();
    const leader = await FakeNode.start({ state });
    const follower = await FakeNode.start({ state, leaderUrl: leader.url });
    const client = connect(follower.url, FAST);
    try {
      const status = await client.status();
      assert.equal(status.role, 'follower');
      assert.deepEqual(client.nodes(), [follower.url, leader.url]);
      await client.collection('c').insert({ _id: 'x' });
      assert.deepEqual(leader.lines(), ['POST /api/c']);
    } finally {
      await client.close();
      await follower.close();
      await leader.close();
    }
  });

  test('retries a read and an insert through 503 NO_LEADER until a leader answers', async () => {
    await withNode(async (node, client) => {
      node.inject({ method: 'POST', action: { kind: 'no-leader' }, times: 2 });
      const doc = await client.collection('c').insert({ v: 1 });
      assert.equal(doc.v, 1);
      node.inject({ method: 'GET', action: { kind: 'server-timeout', code: 'READ_TIMEOUT' }, times: 2 });
      assert.equal((await client.collection('c').get(doc._id))?.v, 1);
      assert.deepEqual(node.lines(), [
        'POST /api/c',
        'POST /api/c',
        'POST /api/c',
        `GET /api/c/${doc._id}`,
        `GET /api/c/${doc._id}`,
        `GET /api/c/${doc._id}`,
      ]);
    });
  });

  test('every 503 code of the table a client may retry is retried for a read, and so is a 503 with a code unknown here', async () => {
    const codes = ALL_ERROR_CODES.filter((code) => errorCodeInfo(code).status === 503 && errorCodeInfo(code).retry !== 'no');
    assert.deepEqual(codes, ['NO_LEADER', 'COMMIT_UNKNOWN', 'READ_TIMEOUT', 'NOT_CAUGHT_UP', 'NODE_FAILED']);
    for (const code of [...codes, 'TIMEOUT']) {
      await withNode(async (node, client) => {
        node.inject({ method: 'GET', action: { kind: 'server-timeout', code } });
        assert.equal(await client.collection('c').get('none'), null, code);
        assert.equal(node.requests.length, 2, code);
      });
    }
  });

  test('gives up after `retries`: NoLeaderError (503), UnavailableError (nothing reachable)', async () => {
    await withNode(async (node, client) => {
      node.inject({ action: { kind: 'no-leader' }, times: 10 });
      await assert.rejects(client.collection('c').get('a'), (error: unknown) => {
        assert.ok(error instanceof NoLeaderError);
        assert.equal(error.status, 503);
        return true;
      });
      assert.equal(node.requests.length, 4, '1 attempt + 3 retries');
    });
    const dead = await deadUrl();
    const client = connect([dead, await deadUrl()], FAST);
    try {
      await assert.rejects(client.collection('c').get('a'), (error: unknown) => {
        assert.ok(error instanceof UnavailableError);
        assert.equal(error.attempts.length, 4);
        assert.equal(error.attempts[0], dead);
        assert.match(error.message, /ECONNREFUSED/);
        return true;
      });
      await assert.rejects(client.status({ url: dead }), UnavailableError);
    } finally {
      await client.close();
    }
  });
});

describe('exactly-once writes: every write carries an Idempotency-Key (issue #12)', () => {
  const KEY = /^[A-Za-z0-9_-]{22}\.(\d+)$/;
  const keyOf = (node: FakeNode, i: number): string => node.requests[i]!.headers['idempotency-key'] as string;

  test('a key on every write, none on reads; the same on each retry of a write, another for the next write', async () => {
    await withNode(async (node, client) => {
      node.inject({ method: 'POST', path: '/api/c', action: { kind: 'no-leader' } });
      const doc = await client.collection('c').insert({ v: 1 });
      await client.collection('c').get(doc._id);
      await client.collection('c').count();
      await client.collection('c').updateById(doc._id, { $inc: { v: 1 } });
      await client.collection('c').remove(doc._id);
      await client.transaction({ ops: [{ op: 'insert', collection: 'c', doc: { v: 2 } }] });
      assert.deepEqual(node.lines(), [
        'POST /api/c',
        'POST /api/c',
        `GET /api/c/${doc._id}`,
        'POST /api/c/_count',
        `PATCH /api/c/${doc._id}`,
        `DELETE /api/c/${doc._id}`,
        'POST /api/_tx',
      ]);
      const keys = node.requests.map((r) => r.headers['idempotency-key']);
      assert.equal(keys[2], undefined);
      assert.equal(keys[3], undefined);
      assert.equal(keys[0], keys[1], 'the retry carries the key of its write');
      const written = [keys[0], keys[4], keys[5], keys[6]] as string[];
      for (const key of written) assert.match(key, KEY);
      assert.deepEqual(
        written.map((key) => Number(KEY.exec(key)![1])),
        [1, 2, 3, 4],
        'one sequence number per write, in order',
      );
      assert.equal(new Set(written.map((key) => key.split('.')[0])).size, 1, 'one client id per client');
    });
    // Another client draws another client id.
    await withNode(async (node, client) => {
      await client.collection('c').insert({ v: 1 });
      await withNode(async (other, otherClient) => {
        await otherClient.collection('c').insert({ v: 1 });
        assert.notEqual(keyOf(node, 0).split('.')[0], keyOf(other, 0).split('.')[0]);
      });
    });
  });

  test('each write says through which seq the client has its answers (Idempotency-Answered-Through); one in flight holds it back', async () => {
    await withNode(async (node, client) => {
      const through = (path: string): Array<string | undefined> =>
        node.requests.filter((r) => r.path === path).map((r) => r.headers['idempotency-answered-through'] as string | undefined);
      await client.collection('a').insert({ v: 1 }); // seq 1
      await client.collection('a').insert({ v: 2 }); // seq 2
      assert.deepEqual(through('/api/a'), [undefined, '1']);
      // seq 3 waits 300 ms for its first answer (then is retried); seqs 4 and 5 go meanwhile.
      node.inject({ path: '/api/slow', action: { kind: 'no-leader', delayMs: 300 } });
      const slow = client.collection('slow').insert({ v: 3 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      await client.collection('b').insert({ v: 4 });
      await client.collection('b').insert({ v: 5 });
      assert.deepEqual(through('/api/b'), ['2', '2'], 'seq 3 is still in flight, though seq 4 is answered');
      await slow;
      assert.deepEqual(through('/api/slow'), ['2', '2'], 'every attempt of a write carries what it began with');
      // A write that ends in an error is finished too: it is never sent again.
      node.inject({ path: '/api/c', action: { kind: 'reply', status: 422, body: { error: { code: 'IDEMPOTENCY_KEY_REUSED', message: 'x' } } } });
      await assert.rejects(client.collection('c').insert({ v: 6 }), IdempotencyKeyReusedError); // seq 6
      await client.collection('d').insert({ v: 7 }); // seq 7
      assert.deepEqual(through('/api/d'), ['6']);
      // Reads carry none.
      await client.collection('d').count();
      assert.equal(node.requests.at(-1)!.headers['idempotency-answered-through'], undefined);
    });
  });

  test('a PATCH with $inc whose connection drops after it was applied is retried and applies once', async () => {
    await withNode(async (node, client) => {
      await client.collection('c').insert({ _id: 'n', n: 0 });
      node.inject({ method: 'PATCH', action: { kind: 'apply-then-drop' } });
      const updated = await client.collection('c').updateById('n', { $inc: { n: 1 } });
      assert.equal(updated.n, 1, 'the answer is the first result, replayed');
      const patches = node.requests.filter((r) => r.method === 'PATCH');
      assert.equal(patches.length, 2);
      assert.equal(patches[0]!.headers['idempotency-key'], patches[1]!.headers['idempotency-key']);
      assert.equal(node.state.docs('c').get('n')?.n, 1, 'applied exactly once');
    });
  });

  test('_update, _delete by filter and _tx are retried after a reset connection and a 503 COMMIT_UNKNOWN, and apply once', async () => {
    await withNode(async (node, client) => {
      await client.collection('c').insert({ _id: 'n', n: 0 });
      node.inject({ path: '/api/c/_update', action: { kind: 'server-timeout', code: 'COMMIT_UNKNOWN', apply: true } });
      const result = await client.collection('c').update({ _id: 'n' }, { $inc: { n: 1 } });
      assert.deepEqual(result, { matched: 1, modified: 1 });
      node.inject({ path: '/api/_tx', action: { kind: 'apply-then-drop' } });
      const tx = await client.transaction({ ops: [{ op: 'update', collection: 'c', filter: { _id: 'n' }, update: { $inc: { n: 10 } } }] });
      assert.deepEqual(tx.results, [{ matched: 1, modified: 1 }]);
      assert.equal(node.state.docs('c').get('n')?.n, 11, 'each write applied exactly once');
      await client.collection('c').insert({ _id: 'gone', a: 1 });
      node.inject({ path: '/api/c/_delete', action: { kind: 'apply-then-drop' } });
      assert.equal(await client.collection('c').remove({ a: 1 }), 1, 'the first answer, not the 0 of a second delete');
      assert.deepEqual(
        node.lines().filter((l) => l !== 'POST /api/c'),
        ['POST /api/c/_update', 'POST /api/c/_update', 'POST /api/_tx', 'POST /api/_tx', 'POST /api/c/_delete', 'POST /api/c/_delete'],
      );
    });
  });

  test('a write that is not safe to repeat is retried after a 503 whose code says nothing was done, or unknown here', async () => {
    await withNode(async (node, client) => {
      await client.collection('c').insert({ _id: 'n', n: 0 });
      node.inject({ path: '/api/c/_update', action: { kind: 'no-leader' }, times: 2 });
      const result = await client.collection('c').update({ _id: 'n' }, { $inc: { n: 1 } });
      assert.equal(result.modified, 1);
      node.inject({ path: '/api/_tx', action: { kind: 'server-timeout', code: 'NODE_FAILED' } });
      await client.transaction({ ops: [{ op: 'update', collection: 'c', filter: { _id: 'n' }, update: { $inc: { n: 1 } } }] });
      // A 503 whose code this client does not know (an older server), after applying: retried, applied once.
      node.inject({ path: '/api/c/_update', action: { kind: 'server-timeout', code: 'TIMEOUT', apply: true } });
      await client.collection('c').update({ _id: 'n' }, { $inc: { n: 1 } });
      assert.equal((await client.collection('c').get('n'))?.n, 3, 'each write applied exactly once');
    });
  });

  test('OutcomeUnknownError only when every attempt failed, each with the same key', async () => {
    await withNode(async (node, client) => {
      // First attempt: outcome unknown; every later one: no leader. The write may exist.
      node.inject({ method: 'POST', action: { kind: 'server-timeout', code: 'COMMIT_UNKNOWN', apply: true } });
      node.inject({ method: 'POST', action: { kind: 'no-leader' }, times: 10 });
      await assert.rejects(client.collection('c').update({}, { $inc: { n: 1 } }), (error: unknown) => {
        assert.ok(error instanceof OutcomeUnknownError, `got ${String(error)}`);
        assert.ok(error.cause instanceof NoLeaderError);
        assert.match(error.message, /every retry failed/);
        return true;
      });
      assert.equal(node.requests.length, 4, '1 attempt + 3 retries');
      assert.equal(new Set(node.requests.map((r) => r.headers['idempotency-key'])).size, 1);
      // A read has nothing to apply: the same answers end in the last error as it is.
      node.inject({ method: 'GET', action: { kind: 'server-timeout', code: 'READ_TIMEOUT' } });
      node.inject({ method: 'GET', action: { kind: 'no-leader' }, times: 10 });
      await assert.rejects(client.collection('c').get('x'), NoLeaderError);
    });
  });

  test('422 IDEMPOTENCY_KEY_REUSED is a clear error, never retried', async () => {
    await withNode(async (node, client) => {
      node.inject({
        method: 'POST',
        action: { kind: 'reply', status: 422, body: { error: { code: 'IDEMPOTENCY_KEY_REUSED', message: 'used for a different request' } } },
      });
      await assert.rejects(client.collection('c').update({}, { $set: { a: 1 } }), (error: unknown) => {
        assert.ok(error instanceof IdempotencyKeyReusedError, `got ${String(error)}`);
        assert.equal(error.code, 'IDEMPOTENCY_KEY_REUSED');
        assert.equal(error.status, 422);
        assert.match(error.message, /Idempotency-Key [A-Za-z0-9_-]{22}\.1 was used for a different request.*bug/);
        return true;
      });
      assert.equal(node.requests.length, 1);
    });
  });

  test('410 IDEMPOTENCY_KEY_EXPIRED on a retry: the first attempt may have applied, so OutcomeUnknownError; on a first attempt, the error itself', async () => {
    await withNode(async (node, client) => {
      const expired = { kind: 'reply', status: 410, body: { error: { code: 'IDEMPOTENCY_KEY_EXPIRED', message: 'record gone' } } } as const;
      node.inject({ method: 'POST', action: { kind: 'server-timeout', code: 'COMMIT_UNKNOWN', apply: true } });
      node.inject({ method: 'POST', action: expired });
      await assert.rejects(client.collection('c').update({}, { $inc: { n: 1 } }), (error: unknown) => {
        assert.ok(error instanceof OutcomeUnknownError, `got ${String(error)}`);
        assert.ok(error.cause instanceof IdempotencyKeyExpiredError);
        return true;
      });
      assert.equal(node.requests.length, 2, 'not retried after 410');
      const before = node.requests.length;
      node.inject({ method: 'POST', action: expired });
      await assert.rejects(client.collection('c').update({}, { $inc: { n: 1 } }), (error: unknown) => {
        assert.ok(error instanceof IdempotencyKeyExpiredError, `got ${String(error)}`);
        assert.equal(error.status, 410);
        return true;
      });
      assert.equal(node.requests.length, before + 1);
    });
  });

  test('a PATCH that only $sets is retried like a PUT', async () => {
    await withNode(async (node, client) => {
      await client.collection('c').insert({ _id: 's', v: 0 });
      node.inject({ method: 'PATCH', action: { kind: 'apply-then-drop' } });
      const doc = await client.collection('c').updateById('s', { $set: { v: 7 } });
      assert.equal(doc.v, 7);
      assert.equal(node.lines().filter((l) => l.startsWith('PATCH')).length, 2);
    });
  });
});

describe('a retried write gets the first result of its earlier attempt', () => {
  test('insert: applied, reply lost; the retry gets the first answer (no 409, no read-back)', async () => {
    await withNode(async (node, client) => {
      node.inject({ method: 'POST', path: '/api/c', action: { kind: 'apply-then-drop' } });
      const doc = await client.collection('c').insert({ v: 'mine' });
      assert.equal(doc.v, 'mine');
      assert.deepEqual(node.lines(), ['POST /api/c', 'POST /api/c']);
      assert.equal(node.state.docs('c').size, 1, 'one document, not two');
      assert.equal(node.state.docs('c').get(doc._id)?._rev, doc._rev);
    });
  });

  test("insert: a 409 on somebody else's document after a lost attempt is a ConflictError (with a key it is not ours)", async () => {
    await withNode(async (node, client) => {
      await client.collection('c').insert({ _id: 'taken', owner: 'them' });
      node.inject({ method: 'POST', path: '/api/c', action: { kind: 'drop' } });
      await assert.rejects(client.collection('c').insert({ _id: 'taken', owner: 'them' }), ConflictError);
      assert.deepEqual(node.lines(), ['POST /api/c', 'POST /api/c', 'POST /api/c'], 'no read-back');
      assert.equal(node.state.docs('c').get('taken')?.owner, 'them');
    });
  });

  test('insert without any ambiguity: a duplicate is a ConflictError at once', async () => {
    await withNode(async (node, client) => {
      await client.collection('c').insert({ _id: 'd', v: 1 });
      await assert.rejects(client.collection('c').insert({ _id: 'd', v: 1 }), ConflictError);
      assert.equal(node.requests.length, 2, 'no read-back without an earlier ambiguous attempt');
    });
  });

  test('insertMany: applied, reply lost; the first answer', async () => {
    await withNode(async (node, client) => {
      node.inject({ method: 'POST', path: '/api/c', action: { kind: 'apply-then-drop' } });
      const docs = await client.collection('c').insertMany([{ i: 1 }, { i: 2 }]);
      assert.deepEqual(
        docs.map((d) => d.i),
        [1, 2],
      );
      assert.equal(node.state.docs('c').size, 2);
      assert.deepEqual(node.lines(), ['POST /api/c', 'POST /api/c']);
    });
  });

  test('replace with ifRev: applied, reply lost; the first answer, not a 412', async () => {
    await withNode(async (node, client) => {
      const doc = await client.collection('c').insert({ _id: 'r', v: 1 });
      node.inject({ method: 'PUT', action: { kind: 'apply-then-drop' } });
      const replaced = await client.collection('c').replace('r', { v: 2 }, { ifRev: doc._rev });
      assert.equal(replaced.v, 2);
      assert.deepEqual(node.lines().slice(1), ['PUT /api/c/r', 'PUT /api/c/r']);
    });
  });

  test('remove by id: applied, reply lost; the first answer (removed), not a 404', async () => {
    await withNode(async (node, client) => {
      await client.collection('c').insert({ _id: 'gone' });
      node.inject({ method: 'DELETE', action: { kind: 'apply-then-drop' } });
      assert.equal(await client.collection('c').remove('gone'), 1);
      assert.equal(node.lines().filter((l) => l.startsWith('DELETE')).length, 2);
    });
  });

  test('createIndex: applied, reply lost; the first answer, not a 409', async () => {
    await withNode(async (node, client) => {
      node.inject({ method: 'POST', path: '/api/c/_indexes', action: { kind: 'apply-then-drop' } });
      const index = await client.collection('c').createIndex({ a: 1 }, { name: 'by_a' });
      assert.deepEqual(index, { name: 'by_a', fields: [['a', 1]], unique: false });
      assert.deepEqual(node.lines(), ['POST /api/c/_indexes', 'POST /api/c/_indexes']);
    });
  });

  test('against a server that ignores the key, an $inc whose reply was lost applies twice (what the key prevents)', async () => {
    await withNode(async (node, client) => {
      node.state.honoursIdempotencyKeys = false;
      await client.collection('c').insert({ _id: 'n', n: 0 });
      node.inject({ method: 'PATCH', action: { kind: 'apply-then-drop' } });
      await client.collection('c').updateById('n', { $inc: { n: 1 } });
      assert.equal(node.state.docs('c').get('n')?.n, 2);
    });
  });
});

describe('timeouts and close', () => {
  test('an attempt without an answer times out and the read is retried', async () => {
    await withNode(
      async (node, client) => {
        node.inject({ method: 'GET', action: { kind: 'hang' } });
        const started = performance.now();
        assert.equal(await client.collection('c').get('none'), null);
        const elapsed = performance.now() - started;
        assert.ok(elapsed >= 140 && elapsed < 1500, `took ${elapsed} ms`);
        assert.equal(node.requests.length, 2);
      },
      { ...FAST, timeout: 150 },
    );
  });

  test('timeouts on every attempt: TimeoutError (status 0); a write: OutcomeUnknownError after every retry', async () => {
    await withNode(
      async (node, client) => {
        node.inject({ action: { kind: 'hang' }, times: 10 });
        await assert.rejects(client.collection('c').count(), (error: unknown) => {
          assert.ok(error instanceof TimeoutError);
          assert.ok(error instanceof RequestTimeoutError);
          assert.equal(error.code, 'REQUEST_TIMEOUT');
          assert.equal(error.status, 0);
          return true;
        });
        assert.equal(node.requests.length, 2);
        await assert.rejects(client.collection('c').update({}, { $set: { a: 1 } }), (error: unknown) => {
          assert.ok(error instanceof OutcomeUnknownError);
          assert.match(error.message, /within 100 ms/);
          return true;
        });
        assert.equal(node.requests.length, 4);
      },
      { retries: 1, backoff: { delayMsInitial: 5, delayMsMax: 5 }, timeout: 100 },
    );
  });

  test('close() fails requests waiting out a backoff and leaves no handle behind', async () => {
    // Let sockets of earlier tests finish closing, so the baseline is stable.
    await waitFor(() => !Object.keys(resourceCounts()).some((name) => name.startsWith('TCP')));
    const baseline = resourceCounts();
    const node = await FakeNode.start();
    const client = connect(node.url, { retries: 5, backoff: { delayMsInitial: 5000, delayMsMax: 5000 } });
    try {
      await client.collection('c').insert({ v: 1 });
      node.inject({ action: { kind: 'no-leader' }, times: 10 });
      const waiting = assert.rejects(client.collection('c').get('x'), ClientClosedError);
      await waitFor(() => node.requests.length === 2);
      const started = performance.now();
      await client.close();
      await waiting;
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 1000, `close() waited ${Math.round(elapsed)} ms: it did not cut the backoff short`);
      await assert.rejects(client.collection('c').get('x'), ClientClosedError);
    } finally {
      await client.close();
      await node.close();
    }
    await waitFor(() => sameCounts(resourceCounts(), baseline));
    assert.deepEqual(resourceCounts(), baseline);
  });

  test('close() while an attempt is in flight: its retryable answer does not start a backoff', async () => {
    const node = await FakeNode.start();
    const client = connect(node.url, { retries: 5, backoff: { delayMsInitial: 5000, delayMsMax: 5000 } });
    try {
      node.inject({ action: { kind: 'no-leader', delayMs: 150 }, times: 10 });
      const started = performance.now();
      const waiting = assert.rejects(client.collection('c').get('x'), ClientClosedError);
      await waitFor(() => node.requests.length === 1);
      assert.equal(node.requests.length, 1, 'the first attempt did not reach the node');
      await client.close();
      await waiting;
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 2000, `the request waited out a backoff after close(): ${Math.round(elapsed)} ms`);
      assert.equal(node.requests.length, 1, 'close() must not let a retry go out');
    } finally {
      await client.close();
      await node.close();
    }
  });
});

function resourceCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((key) => (a[key] ?? 0) === (b[key] ?? 0));
}

async function waitFor(condition: () => boolean, ms = 2000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
