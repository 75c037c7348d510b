import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TransportError } from '../../src/transport/index.ts';
import { startNode, waitFor } from './harness.ts';

async function rejection(promise: Promise<unknown>): Promise<TransportError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TransportError, `expected a TransportError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

describe('forwarded requests', () => {
  test('request/response round-trips bodies (bytes included) and remote errors', async () => {
    const b = await startNode(2, {
      onRequest: async (from, body) => {
        const request = body as { op: string; data?: Uint8Array };
        if (request.op === 'fail') throw Object.assign(new Error('not the leader'), { code: 'NOT_LEADER' });
        if (request.op === 'plain-fail') throw new Error('boom');
        return { from, echo: body };
      },
    });
    const a = await startNode(1, { peers: [{ id: 2, address: b.address }] });
    try {
      const data = new Uint8Array([0, 1, 2, 255]);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => a.transport.request(2, { op: 'insert', i, data }, 2000)));
      for (const [i, result] of results.entries()) {
        const { from, echo } = result as { from: number; echo: { op: string; i: number; data: Uint8Array } };
        assert.equal(from, 1);
        assert.equal(echo.op, 'insert');
        assert.equal(echo.i, i);
        assert.ok(echo.data instanceof Uint8Array);
        assert.deepEqual([...echo.data], [0, 1, 2, 255]);
      }
      const remote = await rejection(a.transport.request(2, { op: 'fail' }, 2000));
      assert.equal(remote.code, 'REMOTE_ERROR');
      assert.equal(remote.remoteCode, 'NOT_LEADER');
      assert.equal(remote.message, 'not the leader');
      const plain = await rejection(a.transport.request(2, { op: 'plain-fail' }, 2000));
      assert.equal(plain.remoteCode, undefined);

      assert.equal((await rejection(a.transport.request(9, {}, 100))).code, 'UNKNOWN_PEER');
      assert.equal((await rejection(a.transport.request(2, { s: Symbol('not msgpack') }, 100))).code, 'ENCODE_FAILED');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('a peer without a request handler answers NO_HANDLER', async () => {
    const b = await startNode(2);
    const a = await startNode(1, { peers: [{ id: 2, address: b.address }] });
    try {
      const error = await rejection(a.transport.request(2, 'x', 2000));
      assert.equal(error.remoteCode, 'NO_HANDLER');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('times out when the peer never answers; a late answer is ignored', async () => {
    let release: (value: unknown) => void = () => undefined;
    const b = await startNode(2, { onRequest: () => new Promise((resolve) => (release = resolve)) });
    const a = await startNode(1, { peers: [{ id: 2, address: b.address }] });
    try {
      const started = performance.now();
      const error = await rejection(a.transport.request(2, 'hang', 150));
      const elapsed = performance.now() - started;
      assert.equal(error.code, 'TIMEOUT');
      assert.ok(elapsed >= 140 && elapsed < 2000, `timed out after ${elapsed} ms`);
      release('late');
      // The connection survives, and later requests still work.
      const next = a.transport.request(2, 'again', 2000);
      await waitFor(() => true, 'tick');
      setTimeout(() => release('second'), 20);
      assert.equal(await next, 'second');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('rejects with DISCONNECTED when the connection drops', async () => {
    const b = await startNode(2, { onRequest: () => new Promise(() => undefined) });
    const a = await startNode(1, { peers: [{ id: 2, address: b.address }] });
    try {
      await waitFor(() => a.transport.stats()[0]!.connected, 'connected');
      const pending = rejection(a.transport.request(2, 'hang', 10_000));
      await waitFor(() => a.transport.stats()[0]!.sent === 1, 'request sent');
      const started = performance.now();
      await b.close();
      const error = await pending;
      assert.equal(error.code, 'DISCONNECTED');
      assert.ok(performance.now() - started < 2000);
    } finally {
      await a.close();
    }
  });

  test('rejects with CLOSED when the transport closes', async () => {
    const b = await startNode(2, { onRequest: () => new Promise(() => undefined) });
    const a = await startNode(1, { peers: [{ id: 2, address: b.address }] });
    try {
      await waitFor(() => a.transport.stats()[0]!.connected, 'connected');
      const pending = rejection(a.transport.request(2, 'hang', 10_000));
      await waitFor(() => a.transport.stats()[0]!.sent === 1, 'request sent');
      await a.transport.close();
      assert.equal((await pending).code, 'CLOSED');
      assert.equal((await rejection(a.transport.request(2, 'y', 100))).code, 'CLOSED');
      a.transport.send({ type: 'TimeoutNow', from: 1, to: 2, term: 1 }); // a no-op, no throw
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
