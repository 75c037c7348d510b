import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeFrame, encodeFrame } from '../../src/transport/frame-codec.ts';
import { listen, closeServer, startNode, waitFor, sleep, bytes } from './harness.ts';
import type { Message } from '../../src/raft/types.ts';

function heartbeat(from: number, to: number, context: number): Message {
  return { type: 'Heartbeat', from, to, term: 1, commit: 0, context };
}

function bigAppend(from: number, to: number, size: number, index: number): Message {
  return {
    type: 'AppendEntries',
    from,
    to,
    term: 1,
    prevLogIndex: index - 1,
    prevLogTerm: 1,
    leaderCommit: 0,
    entries: [{ index, term: 1, type: 'normal', data: bytes(size, index) }],
  };
}

describe('reconnection and bounded queues', () => {
  test('reconnects after the peer restarts on the same port, and messages flow again', async () => {
    const b = await startNode(2);
    const port = Number(b.address.split(':')[1]);
    const a = await startNode(1, { peers: [{ id: 2, address: b.address }], reconnect: { delayMsInitial: 10, delayMsMax: 50 } });
    try {
      await waitFor(() => a.transport.stats()[0]!.connected, 'first connection');
      a.transport.send(heartbeat(1, 2, 1));
      await waitFor(() => b.inbox.length === 1, 'first message');

      await b.close();
      await waitFor(() => !a.transport.stats()[0]!.connected, 'a notices the disconnect');
      for (let i = 0; i < 5; i++) a.transport.send(heartbeat(1, 2, 100 + i)); // while down
      await sleep(100); // a few failed dials

      const b2 = await startNode(2, {}, await listen(port));
      try {
        await waitFor(() => a.transport.stats()[0]!.connected, 'reconnected');
        a.transport.send(heartbeat(1, 2, 2));
        await waitFor(() => b2.inbox.some((m) => m.type === 'Heartbeat' && m.context === 2), 'message after restart');
        assert.ok(b2.inbox.every((m) => m.from === 1 && m.to === 2));
        const s = a.transport.stats()[0]!;
        assert.equal(s.sent + s.dropped + s.queued, 7, 'every message is sent, dropped or queued');
        assert.equal(s.lastError, null);
      } finally {
        await b2.close();
      }
    } finally {
      await a.close();
    }
  });

  test('a peer that comes back and dials in is dialed back at once, not after the backoff', async () => {
    const b = await startNode(2);
    const port = Number(b.address.split(':')[1]);
    // A backoff of 3 to 6 s (equal jitter) after the disconnect: without the redial, a would
    // not reach b again for at least 3 s.
    const a = await startNode(1, { peers: [{ id: 2, address: b.address }], reconnect: { delayMsInitial: 6000, delayMsMax: 6000 } });
    try {
      await waitFor(() => a.transport.stats()[0]!.connected, 'first connection');
      await b.close();
      await waitFor(() => !a.transport.stats()[0]!.connected, 'a notices the disconnect');

      const restarted = Date.now();
      const b2 = await startNode(2, { peers: [{ id: 1, address: a.address }] }, await listen(port));
      try {
        await waitFor(() => a.transport.stats()[0]!.connected, 'a dialed b back', 2500);
        const tookMs = Date.now() - restarted;
        assert.ok(tookMs < 1500, `a reached b ${tookMs} ms after b came back (its backoff was at least 3,000 ms)`);
        a.transport.send(heartbeat(1, 2, 7));
        await waitFor(() => b2.inbox.some((m) => m.type === 'Heartbeat' && m.context === 7), 'a message on the new link');
      } finally {
        await b2.close();
      }
    } finally {
      await a.close();
    }
  });

  test('a down peer: the queue stays within its bounds, drops are counted, memory stays flat', async () => {
    const dead = await listen();
    await closeServer(dead.server); // nothing listens there now
    const maxQueueBytes = 1024 * 1024;
    const a = await startNode(1, {
      peers: [{ id: 2, address: dead.address }],
      maxQueueMessages: 100,
      maxQueueBytes,
      reconnect: { delayMsInitial: 10, delayMsMax: 20 },
    });
    try {
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as () => void;
      gc();
      const before = process.memoryUsage();
      const total = 2000;
      for (let i = 0; i < total; i++) {
        a.transport.send(bigAppend(1, 2, 50_000, i + 1)); // 100 MB offered in all
        const s = a.transport.stats()[0]!;
        assert.ok(s.queued <= 100 && s.queuedBytes <= maxQueueBytes, `bounded at ${i}`);
        if (i % 250 === 0) await sleep(15); // let dials fail in between
      }
      const s = a.transport.stats()[0]!;
      assert.equal(s.connected, false);
      assert.equal(s.sent, 0);
      assert.equal(s.dropped + s.queued, total);
      assert.ok(s.dropped >= total - 100);
      assert.notEqual(s.lastError, null, 'the failed dials are reported');
      // Buffers are released over a few GC cycles (external memory is freed after its
      // holders are collected): settle before measuring, so a busy machine cannot fake a leak.
      for (let i = 0; i < 3; i++) {
        await sleep(20);
        gc();
      }
      const after = process.memoryUsage();
      const growth = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
      assert.ok(growth < 40 * 1024 * 1024, `memory grew by ${growth} bytes`);
    } finally {
      await a.close();
    }
  });

  test('a slow peer: writes stop at the high-water mark, then resume when it drains', async () => {
    // A fake peer that completes the handshake, then stops reading its socket.
    const fake = await listen();
    const wss = new WebSocketServer({ noServer: true });
    let peerSocket: Socket | null = null;
    let received = 0;
    fake.server.on('upgrade', (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        ws.on('message', (data: Buffer) => {
          const frame = decodeFrame(data);
          if (typeof frame === 'string') throw new Error(frame);
          if (frame.k === 'hello') {
            ws.send(encodeFrame({ k: 'welcome', nodeId: 2 }));
            peerSocket = socket as Socket;
            peerSocket.pause();
          } else received += 1;
        });
      });
    });
    const chunk = 256 * 1024;
    const a = await startNode(1, {
      peers: [{ id: 2, address: fake.address }],
      highWaterBytes: 512 * 1024,
      maxQueueMessages: 1000,
      maxQueueBytes: 4 * 1024 * 1024,
    });
    try {
      await waitFor(() => a.transport.stats()[0]!.connected && peerSocket !== null, 'handshake');
      const total = 200; // 50 MB of snapshot chunks
      for (let i = 0; i < total; i++) {
        a.transport.send({
          type: 'InstallSnapshot',
          from: 1,
          to: 2,
          term: 1,
          meta: { index: 9, term: 1, conf: { voters: [1, 2], learners: [] } },
          offset: i * chunk,
          chunk: new Uint8Array(chunk),
          done: false,
          size: total * chunk,
        });
        await new Promise((resolve) => setImmediate(resolve));
      }
      await sleep(50);
      const s = a.transport.stats()[0]!;
      assert.ok(s.queuedBytes <= 4 * 1024 * 1024);
      assert.ok(s.dropped > 0, 'frames beyond the queue are dropped');
      assert.ok(s.sent * chunk < 30 * 1024 * 1024, `sent ${s.sent} chunks to a peer that reads nothing`);
      assert.equal(s.sent + s.queued + s.dropped, total);
      assert.ok(s.queued > 0, 'frames wait in the queue while the socket is full');

      peerSocket!.resume();
      await waitFor(() => a.transport.stats()[0]!.queued === 0, 'queue drains once the peer reads');
      const drained = a.transport.stats()[0]!;
      await waitFor(() => received === drained.sent, 'the peer got every frame handed to the socket', 10_000);
    } finally {
      await a.close();
      wss.close();
      await closeServer(fake.server);
    }
  });
});
