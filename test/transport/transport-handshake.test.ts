import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, waitFor, sleep } from './harness.ts';

describe('handshake refusals', () => {
  test('a transport with another cluster id is refused, and both sides log it', async () => {
    const b = await startNode(2, { clusterId: 'blue' });
    const a = await startNode(1, { clusterId: 'green', peers: [{ id: 2, address: b.address }] });
    try {
      await waitFor(() => a.log.warnings('refused our handshake (cluster-id)').length > 0, 'dialer warning');
      await waitFor(() => b.log.warnings('refused peer node 1').length > 0, 'server warning');
      assert.match(b.log.warnings('refused peer node 1')[0]!.msg, /cluster id "green" does not match this node's cluster id "blue"/);
      assert.match(a.transport.stats()[0]!.lastError ?? '', /cluster-id/);
      a.transport.send({ type: 'TimeoutNow', from: 1, to: 2, term: 1 });
      await sleep(100);
      assert.equal(a.transport.stats()[0]!.connected, false);
      assert.equal(b.inbox.length, 0);
      assert.deepEqual(b.transport.inboundPeerIds(), []);
      // Retries (with backoff) are logged once at warn on each side, not at every attempt.
      await waitFor(() => b.log.lines.filter((l) => l.msg.includes('refused peer node 1')).length >= 3, 'retries');
      assert.equal(a.log.warnings('refused our handshake').length, 1);
      assert.equal(b.log.warnings('refused peer node 1').length, 1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('an id the membership check rejects is refused', async () => {
    const checked: Array<[number, string]> = [];
    const b = await startNode(2, {
      isKnownPeer: (id, address) => {
        checked.push([id, address]);
        return id === 3;
      },
    });
    const a = await startNode(1, { peers: [{ id: 2, address: b.address }] });
    const c = await startNode(3, { peers: [{ id: 2, address: b.address }] });
    try {
      await waitFor(() => a.log.warnings('refused our handshake (unknown-peer)').length > 0, 'dialer warning');
      assert.match(b.log.warnings('refused peer node 1')[0]!.msg, /not a member/);
      assert.deepEqual(checked[0], [1, a.address]);
      await waitFor(() => c.transport.stats()[0]!.connected, 'the known peer connects');
      c.transport.send({ type: 'TimeoutNow', from: 3, to: 2, term: 4 });
      a.transport.send({ type: 'TimeoutNow', from: 1, to: 2, term: 4 });
      await waitFor(() => b.inbox.length === 1, 'message from the known peer');
      await sleep(50);
      assert.deepEqual(
        b.inbox.map((m) => m.from),
        [3],
      );
      assert.equal(a.transport.stats()[0]!.connected, false);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  test('a peer with our own node id is refused', async () => {
    const b = await startNode(2);
    const twin = await startNode(2, { peers: [{ address: b.address }] });
    try {
      await waitFor(() => twin.log.warnings('refused our handshake (same-node)').length > 0, 'dialer warning');
      assert.equal(b.log.warnings('refused peer node 2').length, 1);
      assert.deepEqual(twin.transport.peerIds(), [], 'no id learned from a refused handshake');
    } finally {
      await Promise.all([b.close(), twin.close()]);
    }
  });

  test('a peer answering with an unexpected id is not used', async () => {
    const b = await startNode(5);
    const a = await startNode(1, { peers: [{ id: 2, address: b.address }] });
    try {
      await waitFor(() => a.log.warnings('is node 5, expected node 2').length > 0, 'dialer warning');
      assert.equal(a.transport.stats()[0]!.connected, false);
      assert.deepEqual(a.transport.peerIds(), [2]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('a member that dials in is dialed back at the address in its hello', async () => {
    // Node 1 was never told about node 2 (added to the cluster through another node):
    // node 2's hello is how node 1 learns where to send its messages.
    const a = await startNode(1);
    const b = await startNode(2, { peers: [{ address: a.address }] });
    try {
      await waitFor(() => a.transport.peerIds().includes(2), 'node 1 learned node 2');
      assert.equal(a.transport.addressOf(2), b.address);
      a.transport.send({ type: 'TimeoutNow', from: 1, to: 2, term: 7 });
      await waitFor(() => b.inbox.length === 1, 'a message from node 1 reaches node 2');
      assert.deepEqual(b.inbox[0], { type: 'TimeoutNow', from: 1, to: 2, term: 7 });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('upgrades to other paths are left alone (404 when nobody else handles them)', async () => {
    const a = await startNode(1);
    try {
      const { WebSocket } = await import('ws');
      const ws = new WebSocket(`ws://${a.address}/other`);
      const status = await new Promise<number>((resolve, reject) => {
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => reject(new Error('unexpected upgrade')));
        ws.on('error', () => undefined);
      });
      assert.equal(status, 404);
      ws.terminate();

      // With another upgrade listener present, the transport does not touch other paths.
      let otherSaw = '';
      a.server.on('upgrade', (req, socket) => {
        if (req.url === '/dashboard-ws') {
          otherSaw = req.url;
          socket.end('HTTP/1.1 418 Teapot\r\nConnection: close\r\n\r\n');
        }
      });
      const ws2 = new WebSocket(`ws://${a.address}/dashboard-ws`);
      const status2 = await new Promise<number>((resolve) => {
        ws2.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws2.on('error', () => undefined);
      });
      assert.equal(status2, 418);
      assert.equal(otherSaw, '/dashboard-ws');
      ws2.terminate();
    } finally {
      await a.close();
    }
  });
});
