import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { WebSocket, WebSocketServer } from 'ws';
import { decodeFrame, encodeFrame, PROTOCOL_VERSION } from '../../src/transport/frame-codec.ts';
import { listen, closeServer, startNode, waitFor } from './harness.ts';

const raw = new Packr({ useRecords: false });

/** A fake peer server: `answer` decides what to send back for each frame it receives. */
async function fakePeer(answer: (ws: WebSocket, frame: ReturnType<typeof decodeFrame>) => void, autoPong = true) {
  const listening = await listen();
  const wss = new WebSocketServer({ noServer: true, autoPong });
  let connections = 0;
  listening.server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      connections += 1;
      ws.on('message', (data: Buffer) => answer(ws, decodeFrame(data)));
    });
  });
  return {
    address: listening.address,
    connections: () => connections,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await closeServer(listening.server);
    },
  };
}

describe('liveness and a misbehaving server', () => {
  test('garbage or a stray frame from the dialed server closes the link, which redials', async () => {
    for (const reply of [Buffer.from([0xc1]), raw.pack({ k: 'welcome', nodeId: 'two' }), raw.pack({ k: 'req', id: 1, body: 1 })]) {
      const fake = await fakePeer((ws) => ws.send(reply));
      const a = await startNode(1, { peers: [{ id: 2, address: fake.address }], reconnect: { delayMsInitial: 10, delayMsMax: 20 } });
      try {
        await waitFor(() => fake.connections() >= 3, 'redials after each failure');
        const s = a.transport.stats()[0]!;
        assert.equal(s.connected, false);
        assert.match(s.lastError ?? '', /malformed frame|before welcome/);
      } finally {
        await a.close();
        await fake.close();
      }
    }
  });

  test('after the welcome, an unexpected frame closes the link', async () => {
    const fake = await fakePeer((ws, frame) => {
      if (typeof frame !== 'string' && frame.k === 'hello') {
        ws.send(encodeFrame({ k: 'welcome', nodeId: 2 }));
        ws.send(raw.pack({ k: 'raft', m: { type: 'TimeoutNow', from: 2, to: 1, term: 1 } }));
      }
    });
    const a = await startNode(1, { peers: [{ id: 2, address: fake.address }], reconnect: { delayMsInitial: 10, delayMsMax: 20 } });
    try {
      await waitFor(() => a.log.warnings('unexpected raft frame').length > 0, 'warning');
      assert.equal(a.inbox.length, 0, 'Raft messages are only accepted on inbound connections');
    } finally {
      await a.close();
      await fake.close();
    }
  });

  test('a dialed peer that stops answering pings is dropped', async () => {
    const fake = await fakePeer((ws, frame) => {
      if (typeof frame !== 'string' && frame.k === 'hello') ws.send(encodeFrame({ k: 'welcome', nodeId: 2 }));
    }, false);
    const a = await startNode(1, {
      peers: [{ id: 2, address: fake.address }],
      pingIntervalMs: 40,
      reconnect: { delayMsInitial: 1000, delayMsMax: 1000 },
    });
    try {
      await waitFor(() => a.transport.stats()[0]!.connected, 'connected');
      await waitFor(() => !a.transport.stats()[0]!.connected, 'dropped after a missed pong', 2000);
      assert.match(a.transport.stats()[0]!.lastError ?? '', /no pong/);
    } finally {
      await a.close();
      await fake.close();
    }
  });

  test('an inbound peer that stops answering pings is terminated', async () => {
    const b = await startNode(2, { pingIntervalMs: 40 });
    try {
      const ws = new WebSocket(`ws://${b.address}/raft`, { autoPong: false });
      ws.on('error', () => undefined);
      const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
      await new Promise((resolve) => ws.once('open', resolve));
      ws.send(
        encodeFrame({ k: 'hello', clusterId: 'test-cluster', nodeId: 1, address: '127.0.0.1:1', version: PROTOCOL_VERSION, incarnation: 'inc-1' }),
      );
      await waitFor(() => b.transport.inboundPeerIds().length === 1, 'handshake');
      assert.equal(await closed, 1006);
      await waitFor(() => b.transport.inboundPeerIds().length === 0, 'server forgets the connection');
    } finally {
      await b.close();
    }
  });

  test('healthy connections survive many ping rounds', async () => {
    const b = await startNode(2, { pingIntervalMs: 100 });
    const a = await startNode(1, { peers: [{ id: 2, address: b.address }], pingIntervalMs: 100 });
    try {
      await waitFor(() => a.transport.stats()[0]!.connected, 'connected');
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal(a.transport.stats()[0]!.connected, true);
      assert.equal(a.log.lines.filter((l) => l.msg.includes('connected to node 2')).length, 1, 'never reconnected');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
