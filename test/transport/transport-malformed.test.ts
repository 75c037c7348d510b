import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { WebSocket } from 'ws';
import { decodeFrame, encodeFrame, PROTOCOL_VERSION, type Frame } from '../../src/transport/frame-codec.ts';
import { startNode, waitFor, type TestNode } from './harness.ts';

const raw = new Packr({ useRecords: false });

interface RawClient {
  readonly ws: WebSocket;
  readonly frames: Frame[];
  readonly closed: Promise<number>;
}

async function connectRaw(address: string): Promise<RawClient> {
  const ws = new WebSocket(`ws://${address}/raft`);
  const frames: Frame[] = [];
  ws.on('message', (data: Buffer) => {
    const frame = decodeFrame(data);
    if (typeof frame !== 'string') frames.push(frame);
  });
  ws.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, frames, closed };
}

/** A raw client that completed the handshake as node 1. */
async function handshaken(address: string): Promise<RawClient> {
  const client = await connectRaw(address);
  client.ws.send(
    encodeFrame({ k: 'hello', clusterId: 'test-cluster', nodeId: 1, address: '127.0.0.1:1', version: PROTOCOL_VERSION, incarnation: 'inc-1' }),
  );
  await waitFor(() => client.frames.length > 0, 'welcome');
  assert.deepEqual(client.frames[0], { k: 'welcome', nodeId: 2 });
  return client;
}

function heartbeatFrame(from: number, to: number): Record<string, unknown> {
  return { k: 'raft', m: { type: 'Heartbeat', from, to, term: 1, commit: 0, context: 7 } };
}

describe('malformed input from peers', () => {
  let node: TestNode;
  before(async () => {
    node = await startNode(2, { handshakeTimeoutMs: 300, maxPayloadBytes: 64 * 1024 });
  });
  after(async () => {
    await node.close();
  });

  test('a valid frame from a raw client is delivered (control)', async () => {
    const client = await handshaken(node.address);
    client.ws.send(raw.pack(heartbeatFrame(1, 2)));
    await waitFor(() => node.inbox.length === 1, 'delivery');
    assert.deepEqual(node.inbox.pop(), { type: 'Heartbeat', from: 1, to: 2, term: 1, commit: 0, context: 7 });
    client.ws.close();
    await client.closed;
  });

  test('before the handshake: garbage, non-hello frames and text are refused', async () => {
    const attempts: Array<(ws: WebSocket) => void> = [
      (ws) => ws.send(Buffer.from([0xc1, 0x00, 0xff])),
      (ws) => ws.send(raw.pack(heartbeatFrame(1, 2))),
      (ws) => ws.send(raw.pack({ k: 'req', id: 1, body: 'x' })),
      (ws) => ws.send(raw.pack({ k: 'hello', clusterId: 'test-cluster', nodeId: '1', address: 'x', version: 1 })),
      (ws) => ws.send(raw.pack({ k: 'hello', clusterId: 'test-cluster', nodeId: 1, address: 'x', version: 99, incarnation: 'inc-1' })),
      // Version 3 predates entries stamped with timeMs and idempotency tags (issue #12): a
      // node of version 3 would refuse them at apply while this one applies them.
      (ws) => ws.send(raw.pack({ k: 'hello', clusterId: 'test-cluster', nodeId: 1, address: 'x', version: 3, incarnation: 'inc-1' })),
      // Version 4 predates setAddress conf entries (issue #13), which it cannot decode.
      (ws) => ws.send(raw.pack({ k: 'hello', clusterId: 'test-cluster', nodeId: 1, address: 'x', version: 4, incarnation: 'inc-1' })),
      (ws) => ws.send('{"k":"hello"}'),
    ];
    for (const attempt of attempts) {
      const client = await connectRaw(node.address);
      attempt(client.ws);
      const code = await client.closed;
      assert.ok(code === 1002 || code === 1008, `closed with ${code}`);
      assert.ok(!client.frames.some((f) => f.k === 'welcome'));
    }
    assert.equal(node.inbox.length, 0);
    assert.ok(node.log.warnings('closing peer connection').length >= 4);
    assert.equal(node.log.warnings('protocol version 99').length, 1);
    assert.equal(node.log.warnings('protocol version 3 is not supported').length, 1);
    assert.equal(node.log.warnings('protocol version 4 is not supported').length, 1);
  });

  test('after the handshake: wrong shapes, wrong from/to, stray frames close the connection', async () => {
    const bad: Array<unknown> = [
      heartbeatFrame(3, 2), // from is not the handshake's id
      heartbeatFrame(1, 5), // not addressed to this node
      { k: 'raft', m: { type: 'Heartbeat', from: 1, to: 2, term: -1, commit: 0, context: 0 } },
      {
        k: 'raft',
        m: {
          type: 'AppendEntries',
          from: 1,
          to: 2,
          term: 1,
          prevLogIndex: 0,
          prevLogTerm: 0,
          leaderCommit: 0,
          entries: [{ index: 1, term: 1, type: 'normal', data: 'not bytes' }],
        },
      },
      { k: 'raft', m: { type: 'InstallSnapshot', from: 1, to: 2, term: 1, offset: 0, chunk: new Uint8Array(2), done: true } },
      { k: 'raft', m: { type: 'Nope', from: 1, to: 2, term: 1 } },
      { k: 'raft' },
      { k: 'hello', clusterId: 'test-cluster', nodeId: 1, address: 'a:1', version: 1 },
      { k: 'welcome', nodeId: 1 },
      { k: 'res', id: 1, ok: true, body: 1 },
      [1, 2, 3],
      'string',
    ];
    for (const value of bad) {
      const client = await handshaken(node.address);
      client.ws.send(raw.pack(value));
      assert.equal(await client.closed, 1002, JSON.stringify(value));
    }
    const text = await handshaken(node.address);
    text.ws.send('hello');
    assert.equal(await text.closed, 1002);
    assert.equal(node.inbox.length, 0);
  });

  test('random bytes after the handshake never reach onMessage nor crash', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200, size: 'max' }), async (data) => {
        const client = await handshaken(node.address);
        client.ws.send(data);
        const code = await client.closed;
        assert.equal(code, 1002);
        assert.equal(node.inbox.length, 0);
      }),
      { numRuns: 25 },
    );
  });

  test('random bytes before the handshake are refused', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200, size: 'max' }), async (data) => {
        const client = await connectRaw(node.address);
        client.ws.send(data);
        assert.equal(await client.closed, 1002);
        assert.equal(client.frames.length, 0);
      }),
      { numRuns: 15 },
    );
  });

  test('a frame above maxPayload closes the connection; a silent client is timed out', async () => {
    const big = await handshaken(node.address);
    big.ws.send(Buffer.alloc(100 * 1024));
    assert.equal(await big.closed, 1009);

    const silent = await connectRaw(node.address);
    const started = performance.now();
    await silent.closed;
    assert.ok(performance.now() - started >= 250, 'closed by the handshake timeout');
    assert.ok(node.log.warnings('sent no hello').length >= 1);
  });

  test('the node still serves its real peers afterwards', async () => {
    const peer = await startNode(1, { peers: [{ id: 2, address: node.address }] });
    try {
      peer.transport.send({ type: 'TimeoutNow', from: 1, to: 2, term: 9 });
      await waitFor(() => node.inbox.length === 1, 'delivery');
      assert.deepEqual(node.inbox, [{ type: 'TimeoutNow', from: 1, to: 2, term: 9 }]);
    } finally {
      await peer.close();
    }
  });
});
