import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { listen, startNode, waitFor, everyMessage, type TestNode } from './harness.ts';
import type { Message } from '../../src/raft/types.ts';

describe('three transports', () => {
  test('every message type round-trips between all pairs; ids are learned from handshakes', async () => {
    const listening = await Promise.all([listen(), listen(), listen()]);
    const addresses = listening.map((l) => l.address);
    const identified: Array<Array<[number, string]>> = [[], [], []];
    const nodes: TestNode[] = [];
    for (let i = 0; i < 3; i++) {
      // Peers given by address only (as `--peers 127.0.0.1:8081,...`), this node's own included.
      nodes.push(
        await startNode(
          i + 1,
          { peers: addresses.map((address) => ({ address })), onPeerIdentified: (id, address) => identified[i]!.push([id, address]) },
          listening[i],
        ),
      );
    }
    try {
      await waitFor(() => nodes.every((n) => n.transport.stats().every((s) => s.connected)), 'all links connected');
      for (const [i, n] of nodes.entries()) {
        const others = [1, 2, 3].filter((id) => id !== n.id);
        assert.deepEqual(n.transport.peerIds(), others);
        assert.equal(n.transport.stats().length, 2, 'own address is skipped');
        for (const id of others) assert.equal(n.transport.addressOf(id), addresses[id - 1]);
        assert.deepEqual(identified[i]!.map(([id]) => id).sort(), others, 'onPeerIdentified once per peer');
        for (const [id, address] of identified[i]!) assert.equal(address, addresses[id - 1]);
      }

      const sent = new Map<number, Message[]>([
        [1, []],
        [2, []],
        [3, []],
      ]);
      for (const from of nodes) {
        for (const to of nodes) {
          if (from === to) continue;
          for (const m of everyMessage(from.id, to.id)) {
            from.transport.send(m);
            sent.get(to.id)!.push(m);
          }
        }
      }
      await waitFor(() => nodes.every((n) => n.inbox.length === 26), 'all messages delivered');
      for (const n of nodes) {
        for (const sender of [1, 2, 3].filter((id) => id !== n.id)) {
          // Order is preserved per sender (one connection per direction).
          assert.deepEqual(
            n.inbox.filter((m) => m.from === sender),
            sent.get(n.id)!.filter((m) => m.from === sender),
          );
        }
        for (const s of n.transport.stats()) {
          assert.equal(s.sent, 13);
          assert.equal(s.received, 13);
          assert.equal(s.dropped, 0);
          assert.equal(s.queued, 0);
          assert.equal(s.lastError, null);
        }
      }
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });

  test('messages to unknown ids, or not from this node, are dropped without throwing', async () => {
    const a = await startNode(1);
    const b = await startNode(2, { peers: [] });
    try {
      a.transport.addPeer(2, b.address);
      a.transport.addPeer(1, a.address); // self: ignored
      assert.deepEqual(a.transport.peerIds(), [2]);
      await waitFor(() => a.transport.stats()[0]!.connected, 'a connected to b');
      a.transport.send({ type: 'TimeoutNow', from: 1, to: 9, term: 1 });
      a.transport.send({ type: 'TimeoutNow', from: 5, to: 2, term: 1 });
      a.transport.send({ type: 'TimeoutNow', from: 1, to: 2, term: 1 });
      await waitFor(() => b.inbox.length === 1, 'the valid message');
      assert.deepEqual(b.inbox, [{ type: 'TimeoutNow', from: 1, to: 2, term: 1 }]);
      assert.equal(a.transport.unroutableDropped(), 1);
      assert.equal(a.transport.stats()[0]!.dropped, 1);
      assert.deepEqual(b.transport.inboundPeerIds(), [1]);

      a.transport.removePeer(2);
      assert.deepEqual(a.transport.peerIds(), []);
      a.transport.send({ type: 'TimeoutNow', from: 1, to: 2, term: 1 });
      assert.equal(a.transport.unroutableDropped(), 2);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('an id learned from an inbound hello names an address-only peer', async () => {
    const lb = await listen();
    const identified: Array<[number, string]> = [];
    // b knows a only by address and does not dial yet: a's hello tells b who it is.
    const la = await listen();
    const b2 = await startNode(2, { peers: [{ address: la.address }], onPeerIdentified: (id, address) => identified.push([id, address]) }, lb, false);
    const a = await startNode(1, { peers: [{ id: 2, address: lb.address }] }, la);
    try {
      await waitFor(() => b2.transport.peerIds().length === 1, 'b learned id 1');
      assert.deepEqual(b2.transport.peerIds(), [1]);
      assert.deepEqual(identified, [[1, a.address]]);
      assert.equal(b2.transport.stats()[0]!.connected, false, 'b has not dialed yet');
      b2.transport.start();
      await waitFor(() => b2.transport.stats()[0]!.connected, 'b connected to a');
      b2.transport.send({ type: 'Heartbeat', from: 2, to: 1, term: 1, commit: 0, context: 0 });
      await waitFor(() => a.inbox.length === 1, 'heartbeat arrives');
      assert.equal(identified.length, 1, 'the welcome confirms the id without a second notification');
    } finally {
      await Promise.all([a.close(), b2.close()]);
    }
  });
});
